"""The Slack limit validator (bot/render/slacklimits.py): each limit at and past its edge.

Messages here are written by hand, as a sender could build them, so the
validator is tested independently of the renderer.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.models import SlackMessage
from bot.render.slacklimits import (
    MessageTooLargeError,
    blocks_size,
    ensure_valid,
    find_stray_markup,
    text_length,
    validate_message,
)


def section(text: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": "section", "text": {"type": kind, "text": text}}


def header(text: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": "header", "text": {"type": kind, "text": text}}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def message(*blocks: dict[str, Any], text: str = "fallback") -> SlackMessage:
    return SlackMessage(text=text, blocks=tuple(blocks))


SMILE = "\U0001f600"  # outside the BMP: two UTF-16 units


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        pytest.param(message(section("x" * 3000)), [], id="section-at-3000"),
        pytest.param(
            message(section("x" * 3001)),
            ["block 1 (section): text is 3,001 characters; the limit is 3,000"],
            id="section-past-3000",
        ),
        pytest.param(message(section(SMILE * 1500)), [], id="emoji-at-3000-units"),
        pytest.param(
            message(section(SMILE * 1501)),
            ["block 1 (section): text is 3,002 characters; the limit is 3,000"],
            id="emoji-count-two-units",
        ),
        pytest.param(message(header("h" * 150)), [], id="header-at-150"),
        pytest.param(
            message(header("h" * 151)),
            ["block 1 (header): text is 151 characters; the limit is 150"],
            id="header-past-150",
        ),
        pytest.param(
            message(header("Briefing", kind="mrkdwn")),
            ["block 1 (header): header text must be a plain_text object"],
            id="header-mrkdwn",
        ),
        pytest.param(message(context(*["c"] * 10)), [], id="context-10-elements"),
        pytest.param(
            message(context(*["c"] * 11)),
            ["block 1 (context): 11 elements; the limit is 10"],
            id="context-11-elements",
        ),
        pytest.param(message(*[section("s")] * 50), [], id="50-blocks"),
        pytest.param(message(*[section("s")] * 51), ["51 blocks; the limit is 50"], id="51-blocks"),
        pytest.param(
            message(section("")),
            ["block 1 (section): text is empty (Slack needs at least 1 character)"],
            id="empty-section",
        ),
        pytest.param(
            message(section("ok"), text=""),
            ["text (the notification fallback) is empty"],
            id="empty-fallback",
        ),
        pytest.param(message(section("ok"), text="t" * 4000), [], id="text-at-4000"),
        pytest.param(
            message(section("ok"), text="t" * 4001),
            ["text is 4,001 characters; the limit is 4,000"],
            id="text-past-4000",
        ),
        pytest.param(message({"type": "divider"}), [], id="divider"),
    ],
)
def test_each_limit_is_reported_past_its_edge_only(msg: SlackMessage, expected: list[str]) -> None:
    assert validate_message(msg) == expected


def test_total_size_budget_counts_all_blocks_as_json() -> None:
    # Five sections of 2,900 characters each: every one is fine alone, together
    # they pass the 12,000 budget under which Slack accepts a message.
    blocks = [section("y" * 2900) for _ in range(5)]
    problems = validate_message(message(*blocks))
    size = blocks_size(blocks)
    assert size > 5 * 2900
    assert problems == [f"blocks are {size:,} characters as JSON; the budget is 12,000"]
    assert validate_message(message(*blocks[:4])) == []


@pytest.mark.parametrize(
    ("text", "stray"),
    [
        pytest.param("&lt;!channel&gt; escaped", [], id="escaped-broadcast"),
        pytest.param("see <https://example.com/a?b=1&amp;c=2|the rule>", [], id="link"),
        pytest.param("<http://example.com>", [], id="bare-link"),
        pytest.param("<!date^1700000000^{date_short_pretty} {time}|2023-11-14>", [], id="date"),
        pytest.param("ask <@U0123ABC> or <#C0123ABC|general>", [], id="user-and-channel"),
        pytest.param("hey <!channel> look", ['"<!channel> look"'], id="channel"),
        pytest.param("<!here>", ['"<!here>"'], id="here"),
        pytest.param("<!everyone>", ['"<!everyone>"'], id="everyone"),
        pytest.param("<!subteam^S123|team>", ['"<!subteam^S123|team>"'], id="subteam"),
        pytest.param("<javascript:alert(1)|x>", ['"<javascript:alert(1)|x>"'], id="javascript"),
        pytest.param(
            "<https://evil.com|<b>x</b>>",
            ['"<https://evil.com|<b>x</b>>"', '"<b>x</b>>"', '"</b>>"'],
            id="nested",
        ),
        pytest.param("1 < 2", ['"< 2"'], id="lone-less-than"),
    ],
)
def test_stray_markup_is_found_and_our_tokens_are_not(text: str, stray: list[str]) -> None:
    assert find_stray_markup(text) == stray


def test_stray_markup_is_reported_where_it_is() -> None:
    msg = SlackMessage(
        text="<!here> fallback",
        blocks=(
            section("fine"),
            context("ok", "<@U1> and <!channel>"),
            header("<https://example.com|a link in a header>"),
        ),
    )
    assert validate_message(msg) == [
        'text: unescaped "<!here> fallback"',
        'block 2 (context): element 2: unescaped "<!channel>"',
        'block 3 (header): text: unescaped "<https://example.com|a link in"',
    ]


def test_ensure_valid_names_every_problem() -> None:
    msg = message(*[section("z" * 3001)] * 51, text="")
    with pytest.raises(MessageTooLargeError) as caught:
        ensure_valid(msg)
    assert caught.value.problems[:2] == (
        "text (the notification fallback) is empty",
        "51 blocks; the limit is 50",
    )
    assert "block 51 (section): text is 3,001 characters" in str(caught.value)
    assert str(caught.value).startswith("message not sendable: ")


@pytest.mark.parametrize(
    ("text", "units"),
    [("abc", 3), ("é", 1), ("日本", 2), (SMILE, 2), ("👩‍👩‍👧", 8), ("", 0)],
    ids=["ascii", "latin", "cjk", "emoji", "zwj-family", "empty"],
)
def test_text_length_counts_utf16_units(text: str, units: int) -> None:
    assert text_length(text) == units
