"""The README documents every command, environment variable and feeds.yaml key."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.app.cli.main import build_parser
from bot.models import FeedConfig, Settings
from tests.support import paths

ROOT = paths.ROOT
README = (ROOT / "README.md").read_text()


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", subcommands())
def test_readme_documents_each_command(command: str) -> None:
    assert f"briefbot {command}" in README


@pytest.mark.parametrize(
    "variable",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "BRIEFBOT_CONFIG",
        "BRIEFBOT_DATA",
    ],
)
def test_readme_documents_each_environment_variable(variable: str) -> None:
    assert variable in README


@pytest.mark.parametrize("key", [f.name for f in dataclasses.fields(Settings)])
def test_readme_documents_each_setting(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize(
    "key",
    [
        f.name if f.name != "interval_seconds" else "interval"
        for f in dataclasses.fields(FeedConfig)
    ],
)
def test_readme_documents_each_feed_key(key: str) -> None:
    assert f"`{key}`" in README


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    block = re.search(r"## Quickstart.*?```(?:sh|bash)?\n(.*?)```", README, re.DOTALL)
    assert block, "README has a Quickstart code block"
    commands = [
        line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")
    ]
    assert len(commands) == 2
    assert "briefbot demo" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
