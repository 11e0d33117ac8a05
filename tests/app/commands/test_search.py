"""Queries, `/brief search` and `/brief latest`: answered by search, query errors marked.

Questions in plain words are `/brief ask`'s (tests/app/commands/test_ask.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from tests.app.commands.cases import CHANNEL, config_for, run
from tests.support.backends import Backend
from tests.support.feedserver import FeedServer
from tests.support.readonly import read_only_directory


@pytest.mark.parametrize(
    ("text", "title"),
    [
        pytest.param(
            "search what's new on IPEF", "IPEF ministers sign supply chain agreement", id="question"
        ),
        pytest.param(
            '"entity list" since:30d', "BIS adds 36 entities to the Entity List", id="query"
        ),
        pytest.param("search latest chips", "Chips 4 alliance meets in Tokyo", id="search-verb"),
    ],
)
def test_a_question_or_query_is_answered_by_search(runtime: Runtime, text: str, title: str) -> None:
    reply = run(runtime, text)
    assert reply.startswith("1 result for ")
    assert title in reply


def test_search_can_find_backlog_items_too(runtime: Runtime) -> None:
    assert "Rare earth export quotas unchanged" in run(runtime, "rare earth")


def test_a_read_only_data_directory_still_answers_search(
    feeds: FeedServer, tmp_path: Path, polled: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """No index file can be made there: the items are indexed into a temporary file,
    and a warning says why (PostgreSQL searches in the database: nothing to say)."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "search.sqlite").unlink(missing_ok=True)
    config = config_for(feeds, data, env=polled.env())
    with (
        read_only_directory(data),
        caplog.at_level(logging.WARNING, logger="bot.app.searchindex"),
        Runtime.open(config, read_only=True) as rt,
    ):
        found = run(rt, '"entity list" since:30d')
        backlog = run(rt, "rare earth")
    assert found.startswith("1 result for ")
    assert "BIS adds 36 entities to the Entity List" in found
    assert "Rare earth export quotas unchanged" in backlog
    assert not (data / "search.sqlite").exists()
    warned = [r.getMessage() for r in caplog.records if r.name == "bot.app.searchindex"]
    if polled.postgres:
        assert warned == []
    else:
        [warning] = warned
        assert f"{data} cannot keep its file" in warning
        assert "indexing the stored items into the temporary" in warning


@pytest.mark.parametrize(
    ("text", "header", "titles"),
    [
        pytest.param(
            "latest",
            "4 results for “latest”",
            ["Chips 4 alliance", "IPEF ministers", "BIS adds 36", "Rare earth export"],
            id="all",
        ),
        pytest.param(
            "latest 2", "2 results for “latest”", ["Chips 4 alliance", "IPEF ministers"], id="n"
        ),
        pytest.param(
            "latest ENTITY-LIST",
            "1 result for “latest on entity-list”",
            ["BIS adds 36"],
            id="topic",
        ),
        pytest.param(
            "latest quiet",
            "No items stored from quiet yet: /brief status shows when each feed was last read.",
            [],
            id="empty-feed",
        ),
        pytest.param(
            "latest trade 1", "1 result for “latest from trade”", ["Chips 4 alliance"], id="feed-n"
        ),
        pytest.param(
            "latest supply OR semiconductor",
            "2 results for “latest: supply OR semiconductor”",
            ["Chips 4 alliance", "IPEF ministers"],
            id="query-newest-first",
        ),
    ],
)
def test_latest_lists_the_newest_first(
    runtime: Runtime, text: str, header: str, titles: list[str]
) -> None:
    reply = run(runtime, text)
    assert reply.startswith(header)
    positions = [reply.find(title) for title in titles]
    assert all(p > 0 for p in positions)
    assert positions == sorted(positions)
    # The first poll's item (backlog) is listed too, marked; the others are not marked.
    assert ("Rare earth" in reply) == ("already published when the bot started" in reply)
    assert reply.count("already published when the bot started") <= 1


@pytest.mark.parametrize(
    ("text", "error", "marked"),
    [
        pytest.param("what's \"new", "unclosed quote at column 8", "what's ▶\"new", id="quote"),
        pytest.param("chips AND", "AND needs a term after it (column 7)", "chips ▶AND", id="and"),
        pytest.param("(ipef OR chips", "unbalanced parenthesis at column 1", "▶(ipef", id="paren"),
        pytest.param("search since:xx", "since: needs a duration", "▶since:xx", id="search-since"),
    ],
)
def test_a_malformed_query_says_what_and_where(
    runtime: Runtime, text: str, error: str, marked: str
) -> None:
    lines = run(runtime, text).split("\n")
    assert lines[0].startswith("query error: ")
    assert error in lines[0]
    assert marked in lines[1]
    assert lines[2].startswith("Usage: ")


def test_a_question_that_names_nothing_says_so(runtime: Runtime) -> None:
    reply = run(runtime, "search what is the")
    assert "query error: the question names no subject" in reply


def test_slack_escapes_and_form_like_words_reach_the_search_verbatim(runtime: Runtime) -> None:
    reply = run(runtime, "search text=ipef &amp;  command=/brief &lt;b&gt;")
    assert "“text=ipef & command=/brief <b>”" in reply


def test_a_typo_of_a_command_that_finds_nothing_suggests_it(runtime: Runtime) -> None:
    reply = run(runtime, "subscrib")
    assert reply.startswith("No items: items from ")
    assert "on “subscrib”." in reply
    assert "Did you mean /brief subscribe?" in reply


def test_latest_others_lists_what_the_digest_counts_as_other(runtime: Runtime) -> None:
    """`/brief latest others`: the command a digest's "Other new items" names."""
    digest = run(runtime, "digest")
    assert "Other new items (1)" in digest
    reply = run(runtime, "latest others")
    assert reply.startswith("1 result for “latest matching no topic”")
    assert "Chips 4 alliance meets in Tokyo" in reply
    for topical in ("BIS adds 36", "IPEF ministers", "Rare earth"):
        assert topical not in reply


def test_latest_others_follows_the_channels_digest_topics(
    feeds: FeedServer, tmp_path: Path, polled: Backend
) -> None:
    """A channel whose digest names only ipef counts the Entity List story as other too."""
    digests = (
        f"digests:\n  - channel: {CHANNEL}\n    at: '08:30'\n    timezone: UTC\n"
        "    topics: [ipef]\n"
    )
    config = config_for(feeds, tmp_path / "data", extra=digests, env=polled.env())
    with Runtime.open(config) as runtime:
        assert "Other new items (2)" in run(runtime, "digest")
        reply = run(runtime, "latest others")
        assert reply.startswith("2 results for “latest matching no topic”")
        assert reply.index("Chips 4 alliance") < reply.index("BIS adds 36")
        assert "IPEF ministers" not in reply
        # Elsewhere (no digest there), only what matches no topic at all.
        elsewhere = run(runtime, "latest others", channel="C0ELSEWHERE1")
        assert "Chips 4 alliance" in elsewhere
        assert "BIS adds 36" not in elsewhere
