"""feeds.yaml documents for the config tests: parse one, or list its problems."""

from __future__ import annotations

from textwrap import dedent

import pytest

from bot.config.model import Config, ConfigError
from bot.config.schema import parse_config_text
from tests.support.secretscan import FEED_PASSWORD, FEED_TOKEN

BIS_URL = (
    "https://www.federalregister.gov/api/v1/documents.rss"
    "?conditions%5Bagencies%5D%5B%5D=industry-and-security-bureau"
)
# Distinctive fake secrets (tests/support/secretscan.py): any of these in output is a leak.
URL_PASSWORD = FEED_PASSWORD
URL_TOKEN = FEED_TOKEN


def parse(text: str, env: dict[str, str] | None = None) -> Config:
    return parse_config_text(dedent(text), "feeds.yaml", env={} if env is None else env)


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, env)
    return str(info.value).splitlines()
