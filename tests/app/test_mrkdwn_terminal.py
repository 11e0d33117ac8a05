"""Slack mrkdwn in the terminal (bot/app/mrkdwn_terminal.py): styled as Slack shows it."""

from __future__ import annotations

import pytest

from bot.app.mrkdwn_terminal import Run, mrkdwn_runs


@pytest.mark.parametrize(
    ("mrkdwn", "runs"),
    [
        pytest.param("*Briefing* today", [("Briefing", "bold"), (" today", "")], id="bold"),
        pytest.param(
            "*<https://example.org/a|Additions to the Entity List>*",
            [("Additions to the Entity List", "bold underline link https://example.org/a")],
            id="bold-link",
        ),
        pytest.param(
            "see <https://example.org/b>",
            [("see ", ""), ("https://example.org/b", "underline link https://example.org/b")],
            id="bare-link",
        ),
        pytest.param(
            "<!date^1757995200^{date_short_pretty}|2025-09-16 04:00 UTC> · _synthetic_",
            [("2025-09-16 04:00 UTC", ""), (" · ", ""), ("synthetic", "italic")],
            id="date-and-italics",
        ),
        pytest.param(
            ":warning: *BIS* `fr-bis` · failing :unknown_code:",
            [("⚠️ ", ""), ("BIS", "bold"), (" ", ""), ("fr-bis", "cyan"), (" · failing ", "")],
            id="emoji-and-code",
        ),
        pytest.param(
            "a &lt;b&gt; &amp; snake_case_name *not bold",
            [("a <b> & snake_case_name *not bold", "")],
            id="escapes-and-lone-markers",
        ),
        pytest.param(
            "<#C0ALERTS01|alerts> and <@U0ALICE001|alice>",
            [("alerts", "bold"), (" and ", ""), ("alice", "bold")],
            id="channel-and-user",
        ),
    ],
)
def test_mrkdwn_becomes_styled_runs(mrkdwn: str, runs: list[Run]) -> None:
    assert mrkdwn_runs(mrkdwn) == runs
