"""check-config's warnings (bot/config/warnings.py): what a valid configuration will not do."""

from __future__ import annotations

import pytest

from bot.config.warnings import config_warnings
from tests.config.feedsyaml import parse

SOCKET_MODE = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test"}
HTTP_MODE = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s3cr3t"}

COMPLETE = """\
    admins: [U0ADMIN001]
    feeds:
      - id: bis
        url: https://www.federalregister.gov/bis.rss
      - id: ofac
        url: https://www.federalregister.gov/ofac.rss
    digests:
      - channel: C0DIGEST01
        at: "08:30"
        timezone: Asia/Tokyo
"""

NO_SLACK_TOKEN = "SLACK_BOT_TOKEN is not set: `briefbot run` cannot start without it"
NO_SIGNING_SECRET = (
    "HTTP mode without SLACK_SIGNING_SECRET: `briefbot run` cannot verify Slack's "
    "requests and will not start; set it, or set SLACK_APP_TOKEN for Socket Mode"
)
NO_DIGESTS = (
    "no digests: no channel gets a morning briefing; add one under `digests:` "
    "(or with /brief schedule HH:MM in the channel)"
)
NO_ADMINS = (
    "no admins: nobody can add feeds, set schedules or subscribe channels from "
    "Slack; list Slack user ids under `admins:`"
)


@pytest.mark.parametrize("env", [SOCKET_MODE, HTTP_MODE], ids=["socket-mode", "http-mode"])
def test_a_complete_configuration_has_no_warning(env: dict[str, str]) -> None:
    assert config_warnings(parse(COMPLETE, env)) == []


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        pytest.param(COMPLETE, {}, [NO_SLACK_TOKEN, NO_SIGNING_SECRET], id="no-slack-settings"),
        pytest.param(
            COMPLETE,
            {"SLACK_BOT_TOKEN": "xoxb-test"},
            [NO_SIGNING_SECRET],
            id="http-mode-without-signing-secret",
        ),
        pytest.param(
            COMPLETE.replace("    admins: [U0ADMIN001]\n", ""),
            SOCKET_MODE,
            [NO_ADMINS],
            id="no-admins",
        ),
        pytest.param(
            COMPLETE[: COMPLETE.index("    digests:")],
            SOCKET_MODE,
            [NO_DIGESTS],
            id="no-digests",
        ),
        pytest.param(
            COMPLETE + "        feeds: [bis]\n",
            SOCKET_MODE,
            [
                "feed ofac: no digest shows its items (each digest's `feeds:` leaves it out); "
                "it still feeds search and subscriptions"
            ],
            id="a-feed-no-digest-shows",
        ),
        pytest.param(
            COMPLETE.replace(
                "url: https://www.federalregister.gov/ofac.rss",
                "url: https://www.federalregister.gov/ofac.rss\n        enabled: false",
            )
            + "        feeds: [bis]\n",
            SOCKET_MODE,
            [],
            id="a-paused-feed-is-not-reported",
        ),
    ],
)
def test_each_warning_says_what_will_not_happen(
    text: str, env: dict[str, str], expected: list[str]
) -> None:
    assert config_warnings(parse(text, env)) == expected
