"""`read_words`: Slack's escaped text read into words."""

from __future__ import annotations

import pytest

from bot.app.commands.words import Word, read_words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("  a   b\t c\n", [Word("a"), Word("b"), Word("c")], id="whitespace"),
        pytest.param(
            "<#C0TRADE0001|trade-desk> x",
            [Word("#trade-desk", channel="C0TRADE0001"), Word("x")],
            id="channel",
        ),
        pytest.param(
            "<#C0TRADE0001>", [Word("#C0TRADE0001", channel="C0TRADE0001")], id="channel-bare"
        ),
        pytest.param("<@U0OTHER0001|olga>", [Word("@olga", user="U0OTHER0001")], id="user"),
        pytest.param(
            "<https://example.org/rss|example.org/rss>",
            [Word("example.org/rss", url="https://example.org/rss")],
            id="link-label",
        ),
        pytest.param(
            "<https://example.org/a?b=1&amp;c=2>",
            [Word("https://example.org/a?b=1&c=2", url="https://example.org/a?b=1&c=2")],
            id="link",
        ),
        pytest.param(
            "add <https://example.org/rss|Click here> now",
            [
                Word("add"),
                Word("Click here", url="https://example.org/rss"),
                Word("now"),
            ],
            id="link-label-with-spaces",
        ),
        pytest.param("<!here> now", [Word("@here"), Word("now")], id="broadcast"),
        pytest.param(
            "a &amp; b &lt;c&gt;", [Word("a"), Word("&"), Word("b"), Word("<c>")], id="entities"
        ),
        pytest.param("<not a token>", [Word("<not"), Word("a"), Word("token>")], id="literal"),
        pytest.param("text=1&channel_id=C1", [Word("text=1&channel_id=C1")], id="form-like"),
        pytest.param("", [], id="empty"),
    ],
)
def test_slack_text_is_read_into_words(text: str, expected: list[Word]) -> None:
    assert read_words(text) == expected
