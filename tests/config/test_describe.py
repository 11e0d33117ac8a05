"""check-config's description (bot/config/describe.py) and the config objects' reprs.

Neither ever shows a secret.
"""

from __future__ import annotations

import dataclasses
import json

from bot.config.describe import describe_config
from bot.config.model import (
    Config,
)
from bot.models import Settings
from tests.config.feedsyaml import BIS_URL, URL_PASSWORD, URL_TOKEN, parse
from tests.support.secretscan import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET

SECRET_ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "SLACK_API_URL": f"https://relay:{URL_PASSWORD}@slack-proxy.example/api/",
}


def config_with_secrets() -> Config:
    return parse(
        f"""\
        feeds:
          - id: private-feed
            url: https://reader:{URL_PASSWORD}@feeds.example.org/x.rss?api_key={URL_TOKEN}&q=chips
          - id: tokened
            url: https://feeds.example.org/y.rss?access_token={URL_TOKEN}&keywords=wafer
        """,
        env=SECRET_ENV,
    )


def test_no_secret_appears_in_the_description_or_the_config_objects() -> None:
    config = config_with_secrets()
    assert config.slack.bot_token == BOT_TOKEN  # the values are there, for the bot to use
    described = describe_config(config)
    outputs = [
        json.dumps(described),
        repr(described),
        repr(config),
        str(config),
        repr(config.slack),
        str(config.slack),
        f"{config.slack}",
    ]
    for text in outputs:
        for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, URL_PASSWORD, URL_TOKEN):
            assert secret not in text
    assert described["slack"] == {
        "bot_token": "set",
        "signing_secret": "set",
        "app_token": "set",
        "api_url": "https://***@slack-proxy.example/api/",
        "mode": "socket",
        "client_id": "not set",
        "client_secret": "not set",
        "secret_key": "not set",
    }
    assert [f["url"] for f in described["feeds"]] == [
        "https://***@feeds.example.org/x.rss?api_key=***&q=chips",
        "https://feeds.example.org/y.rss?access_token=***&keywords=wafer",
    ]


def test_describe_shows_every_setting_and_the_resolved_values() -> None:
    config = parse(
        f"""\
        settings:
          connect_timeout: 5s
        feeds:
          - id: fr-bis
            url: {BIS_URL}
            interval: 90m
            enrich: federal-register
        topics:
          - id: chips
            query: chip
        digests:
          - channel: C0123456789
            at: "07:05"
            timezone: America/New_York
            days: weekdays
        """
    )
    described = describe_config(config)
    assert described["path"] == "feeds.yaml"
    assert described["settings"] == {
        f.name: getattr(Settings(connect_timeout=5.0), f.name) for f in dataclasses.fields(Settings)
    }
    assert described["feeds"] == [
        {
            "id": "fr-bis",
            "name": "fr-bis",
            "url": BIS_URL,  # nothing secret in it: unchanged, encoding and all
            "interval": "1h30m",
            "interval_seconds": 5400,
            "tags": [],
            "enabled": True,
            "allow_private": False,
            "allow_addresses": [],
            "enrich": "federal-register",
        }
    ]
    assert described["topics"] == [
        {"id": "chips", "query": "chip", "description": "", "priority": 0}
    ]
    assert described["digests"] == [
        {
            "channel": "C0123456789",
            "at": "07:05",
            "timezone": "America/New_York",
            "days": "mon-fri",
            "topics": "all",
            "feeds": "all",
            "max_items": 20,
            "thread": True,
            "when_empty": "skip",
            "others": "show",
            "summaries": False,
            "monthly": False,
        }
    ]
    assert described["slack"]["bot_token"] == "not set"
    assert described["slack"]["api_url"] == "https://slack.com/api/"
    assert described["slack"]["mode"] == "http"
