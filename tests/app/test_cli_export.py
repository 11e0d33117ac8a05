"""`briefbot search` and `latest` as people and scripts read them: whole links, the count of
what was left out, `--json` and `--csv`, and a `feed:` that names no feed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.cli.main import main
from bot.app.cli.shared import EXIT_OK, EXIT_USAGE
from tests.app.test_cli import write_feeds
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

SLUG = "revisions-to-the-entity-list-" * 5 + "end"


def link(n: int) -> str:
    """A long Federal Register link, a document number of its own per notice."""
    return f"https://www.federalregister.gov/documents/2026/12/07/2026-{24500 + n}/{SLUG}"


# Distinct headlines: near-identical ones would be linked as one story.
SUBJECTS = [
    "Iran oil tankers",
    "Russian aluminium smelters",
    "North Korean shipping agents",
    "Venezuelan gold traders",
    "Syrian construction firms",
    "Belarus potash exporters",
    "Myanmar jade companies",
    "Cuban hotel operators",
    "Sudanese militia financiers",
    "Burmese timber brokers",
    "Nicaraguan mining officials",
]


def title(n: int) -> str:
    return f"Sanctions on {SUBJECTS[n - 1]}"


def sanctions(count: int) -> list[Entry]:
    now = datetime.now(UTC)
    return [
        Entry(
            title(n),
            link(n),
            guid=f"s{n}",
            summary=f"OFAC sanctions designation number {n}.",
            published=now - timedelta(hours=n),
        )
        for n in range(1, count + 1)
    ]


@pytest.fixture
def polled(feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A data directory whose feed has 11 sanctions notices, none of them backlog."""
    feed_server.add("/ofac.xml", make_rss([]), etag='"0"')
    feeds = write_feeds(
        tmp_path / "feeds.yaml", {"ofac": feed_server.url("/ofac.xml")}, tmp_path / "d"
    )
    assert main(["--config", str(feeds), "poll"]) == EXIT_OK  # the empty first poll: backlog
    feed_server.add("/ofac.xml", make_rss(sanctions(11)), etag='"1"')
    assert main(["--config", str(feeds), "poll"]) == EXIT_OK
    capsys.readouterr()
    return feeds


def test_search_shows_every_link_whole_and_says_how_to_see_the_rest(
    polled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(polled), "search", "sanctions"]) == EXIT_OK
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines()]

    assert lines[0] == "11 result(s) for sanctions"
    links = [line for line in lines if line.startswith("[")]
    assert len(links) == 10
    for line in links:  # each on a line of its own, never folded
        _rank, url = line.split(" ", 1)
        assert url in {link(n) for n in range(1, 12)}
    assert lines[-1] == "1 more: briefbot search sanctions --limit 11"


@pytest.mark.parametrize("fmt", ["--json", "--csv"])
def test_search_exports_the_same_rows_as_json_and_csv(
    polled: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert main(["--config", str(polled), "search", "sanctions", "--limit", "3", fmt]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out) if fmt == "--json" else list(csv.DictReader(io.StringIO(out)))

    assert [str(row["rank"]) for row in rows] == ["1", "2", "3"]
    by_title = {title(n): n for n in range(1, 12)}
    assert all(row["title"] in by_title for row in rows), rows
    first = rows[0]
    assert first["feed"] == "ofac"
    assert first["link"] == link(by_title[str(first["title"])])
    assert "*sanctions*" not in first["snippet"] and "sanctions" in first["snippet"].lower()
    assert datetime.fromisoformat(str(first["published"])).tzinfo is not None


def test_latest_lists_the_newest_stories_with_whole_links_and_exports_them(
    polled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(polled), "latest", "--limit", "2"]) == EXIT_OK
    lines = [line.rstrip() for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == "2 newest stories"
    assert [line.split(" ", 1)[0] for line in lines if line.startswith("[")] == ["[1]", "[2]"]

    assert main(["latest", "--config", str(polled), "--feed", "ofac", "--csv"]) == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["title"] for r in rows] == [title(n) for n in range(1, 11)]


def test_a_feed_filter_naming_no_feed_is_an_error_naming_the_feeds(
    polled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(polled), "search", "sanctions feed:ofca"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == (
        "error: query error: feed:ofca: no such feed; the feeds are ofac"
    )
    assert main(["--config", str(polled), "latest", "--feed", "ofca"]) == EXIT_USAGE
    assert capsys.readouterr().err.strip() == "error: no feed ofca; the feeds are ofac"
