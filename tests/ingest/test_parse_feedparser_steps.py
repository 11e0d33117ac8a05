"""The bot's run of feedparser's steps gives what `feedparser.parse` gives (issue 17 part 2).

`bot.ingest.parse._run_feedparser` repeats `feedparser.api.parse`'s steps for
a body in memory with parser classes of the bot's own, so it leans on
feedparser 6's internals. This compares the two on every recorded feed: a
feedparser release that moves those internals fails here, by name, before
it changes an item.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import feedparser
import pytest

from bot.ingest.parse import _run_feedparser

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = [
    ROOT / "tests" / "fixtures" / "feeds",
    ROOT / "bot" / "demo_feeds",
    *(ROOT.parent / "shared" / "feeds-corpus" / name for name in ("policy", "general", "tricky")),
]
FEEDS = sorted(
    path
    for folder in FOLDERS
    if folder.is_dir()
    for path in folder.iterdir()
    if path.is_file() and path.suffix != ".md"
)
HEADERS = [
    {"content-type": "application/xml"},
    {"content-type": "application/xml", "content-location": "https://feeds.example.org/a/feed.xml"},
]


def _plain(result: Any) -> dict[str, Any]:
    """What a parse gave, with the exception object as its type and text."""
    exc = result.get("bozo_exception")
    return {
        "bozo": bool(result.get("bozo")),
        "bozo_exception": (type(exc).__name__, str(exc)) if exc is not None else None,
        "encoding": result.get("encoding"),
        "version": result.get("version"),
        "namespaces": dict(result.get("namespaces", {})),
        "feed": dict(result["feed"]),
        "entries": [dict(entry) for entry in result["entries"]],
    }


def test_there_are_recorded_feeds_to_compare() -> None:
    assert len(FEEDS) >= 20, [str(folder) for folder in FOLDERS]


@pytest.mark.parametrize("headers", HEADERS, ids=["no-base", "base"])
@pytest.mark.parametrize("path", FEEDS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_same_result_as_feedparser_parse(path: Path, headers: dict[str, str]) -> None:
    body = path.read_bytes()
    expected = feedparser.parse(
        io.BytesIO(body),
        response_headers=dict(headers),
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    assert _plain(_run_feedparser(body, dict(headers))) == _plain(expected)
