"""Dates a feed gets wrong on purpose (issue 12, part 11): a year past 9999, the future.

Feeds served over loopback HTTP, polled by a real Runtime (on a clock the test
moves) into a real store; `/brief latest` is asked as a user would. feedparser
reads `10000-01-01T00:00:00Z` as 2010-12-01, which made the item backlog (too
old to alert) and dated 2010; a date 36 hours ahead sorted the item above
everything until then; feedparser also rolls an impossible day (October 32)
over into another date. All failed on the previous code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.ingest.parse import parse_feed
from bot.models import Item
from tests.app.commands.cases import run
from tests.ingest.served import NOW, poll_served, served_runtime, stored_items
from tests.support.feedserver import FeedServer

ATOM = "application/atom+xml"
FIRST_POLL = NOW
SECOND_POLL = NOW + timedelta(hours=1)
THIRD_POLL = NOW + timedelta(hours=3)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def slug(title: str) -> str:
    return "-".join(title.lower().split())


def atom(entries: list[tuple[str, str]]) -> bytes:
    """An Atom feed of (title, raw <updated>) entries."""
    body = "".join(
        f"<entry><id>urn:story:{slug(title)}</id><title>{title}</title>"
        f'<link href="https://wire.example/{slug(title)}"/><updated>{updated}</updated></entry>'
        for title, updated in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Wire</title><id>urn:wire</id><updated>{iso(NOW)}</updated>{body}</feed>"
    ).encode()


BACKGROUND = ("Background briefing", iso(FIRST_POLL - timedelta(hours=2)))
TYPO_YEAR = ("Year ten thousand", "10000-01-01T00:00:00Z")
NEXT_WEEK = ("Dated next week", iso(SECOND_POLL + timedelta(days=7)))
AHEAD = ("Dated 36 hours ahead", iso(SECOND_POLL + timedelta(hours=36)))
JUST_NOW = ("Published just before", iso(SECOND_POLL - timedelta(minutes=5)))
NEWEST = ("Newest story", iso(THIRD_POLL - timedelta(minutes=1)))


def poll_three_times(server: FeedServer, data_dir: Path) -> tuple[dict[str, Item], str]:
    """The stored items by title after three polls an hour or two apart, and `/brief latest`."""
    now = [FIRST_POLL]
    with served_runtime(server, data_dir, clock=lambda: now[0]) as runtime:
        poll_served(runtime, server, atom([BACKGROUND]), content_type=ATOM)
        now[0] = SECOND_POLL
        second = [BACKGROUND, TYPO_YEAR, NEXT_WEEK, AHEAD, JUST_NOW]
        poll_served(runtime, server, atom(second), content_type=ATOM)
        now[0] = THIRD_POLL
        poll_served(runtime, server, atom([NEWEST, *second]), content_type=ATOM)
        return {item.title: item for item in stored_items(runtime)}, run(runtime, "latest")


def test_a_year_past_9999_counts_as_no_date(feed_server: FeedServer, tmp_path: Path) -> None:
    items, reply = poll_three_times(feed_server, tmp_path / "data")
    item = items[TYPO_YEAR[0]]
    assert (item.published, item.first_seen, item.backlog) == (None, SECOND_POLL, False)
    assert item.extras["ignored_date"] == "10000-01-01T00:00:00Z"
    assert "Year ten thousand\nattacked · 2026-11-18 13:00 UTC" in reply


def test_a_date_in_the_future_does_not_sort_above_newer_news(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    items, reply = poll_three_times(feed_server, tmp_path / "data")
    shown = sorted((reply.find(title), title) for title, _ in (NEWEST, NEXT_WEEK, AHEAD, JUST_NOW))
    assert all(position > 0 for position, _ in shown)
    titles = [title for _, title in shown]
    assert titles[0] == NEWEST[0]
    assert set(titles[1:3]) == {NEXT_WEEK[0], AHEAD[0]}  # both first seen at the second poll
    assert titles[3] == JUST_NOW[0]
    assert "Dated 36 hours ahead\nattacked · 2026-11-18 13:00 UTC" in reply  # first seen

    for title, raw in (NEXT_WEEK, AHEAD):
        item = items[title]
        assert (item.published, item.first_seen) == (None, SECOND_POLL)
        assert item.extras["ignored_date"] == raw
    assert items[JUST_NOW[0]].published == SECOND_POLL - timedelta(minutes=5)


@pytest.mark.parametrize(
    ("raw", "published"),
    [
        pytest.param("10000-01-01T00:00:00Z", None, id="year-10000-read-as-2010"),
        pytest.param("12026-01-01T00:00:00Z", None, id="year-12026-read-as-2012"),
        pytest.param("2026-10-32T00:00:00Z", None, id="october-32-rolled-into-november"),
        pytest.param("2026-02-30T08:00:00Z", None, id="february-30-rolled-into-march"),
        pytest.param(
            "2026-11-17T09:30:00+09:00", datetime(2026, 11, 17, 0, 30, tzinfo=UTC), id="sound"
        ),
        pytest.param("2026-11-17", datetime(2026, 11, 17, tzinfo=UTC), id="date-only"),
    ],
)
def test_dates_feedparser_misreads_count_as_missing(raw: str, published: datetime | None) -> None:
    body = atom([("Dated story", raw)])
    [item] = parse_feed("wire", body, fetched_at=NOW).items
    assert item.published == published
    assert item.extras == ({} if published else {"ignored_date": raw})
