"""`briefbot poll` parses in workers forked from its own process (bot/ingest/forkparse.py).

A hostile small document (one InlineFirstParser would parse in the poll's own
process, where a poll cannot fork) still fails within `parse_timeout`, its
worker killed, the other feeds are stored, and the process ends.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.ingest.inlinefirst import INLINE_MAX_BYTES
from bot.store.tinydb.store import TinyStore
from tests.app.test_cli import run_cli, write_feeds
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer

# Nested unknown elements: feedparser's work grows with the square of the depth
# (60,000 took 3 s on an idle core); 150,000 is well past the limit below, in 450 KB.
NESTED = b"<rss><channel>" + b"<x>" * 150_000 + b"</channel></rss>"


def test_a_small_hostile_document_fails_in_time_and_the_poll_stores_the_rest(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    assert len(NESTED) <= INLINE_MAX_BYTES  # small: inline, were the workers not forked
    feed_server.add("/ok.xml", make_rss(numbered_entries(1, 3)))
    feed_server.add("/nested.xml", NESTED)
    urls = {"good-feed": feed_server.url("/ok.xml"), "nested-feed": feed_server.url("/nested.xml")}
    feeds = write_feeds(tmp_path / "feeds.yaml", urls, tmp_path / "data")
    text = feeds.read_text(encoding="utf-8").replace(
        "settings:\n", "settings:\n  parse_timeout: 0.5\n", 1
    )
    feeds.write_text(text, encoding="utf-8")

    result = run_cli("--config", str(feeds), "poll")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    nested = re.split(r"  +", next(line for line in lines if line.startswith("nested-feed")))
    assert nested[1] == "error"
    assert nested[-1] == (
        "gave up parsing after 0.5 s: the document is too large or too complex to read in time"
    )
    assert lines[-1] == "2 feeds polled, 1 failed, 3 items stored."
    with TinyStore.open(tmp_path / "data", read_only=True) as store:
        assert sorted(i.title for i in store.items.after()) == ["Story 1", "Story 2", "Story 3"]
