"""`briefbot poll` into a pipe or a file: plain columns, safe text, every line out, data stored."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

from bot.app.cli.plain import clean_cell, write_poll_table
from bot.models import PollReport
from bot.store.tinydb.store import TinyStore
from tests.app.test_cli import run_cli, write_feeds
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer


def test_a_piped_poll_prints_plain_columns_and_exits_with_its_data_stored(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.add("/ok.xml", make_rss(numbered_entries(1, 3)))
    feed_server.add("/bad.xml", b"nope", status=500)
    urls = {"good-feed": feed_server.url("/ok.xml"), "bad-feed": feed_server.url("/bad.xml")}
    feeds = write_feeds(tmp_path / "feeds.yaml", urls, tmp_path / "data")
    result = run_cli("--config", str(feeds), "poll")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.split(r"  +", lines[0]) == [
        "feed",
        "status",
        "new",
        "already seen",
        "time",
        "next poll",
        "error / warning",
    ]
    good = re.split(r"  +", next(line for line in lines if line.startswith("good-feed")))
    bad = re.split(r"  +", next(line for line in lines if line.startswith("bad-feed")))
    assert good[1:3] == ["ok", "3 backlog"]
    assert bad[1] == "error" and "500" in bad[-1]
    assert lines[-1] == "2 feeds polled, 1 failed, 3 items stored."
    assert not re.search(r"[│┃━─\x1b]", result.stdout)
    with TinyStore.open(tmp_path / "data", read_only=True) as store:
        assert store.items.count() == 3  # durable before the process ended


def test_text_from_a_server_cannot_restyle_the_terminal_or_break_the_columns() -> None:
    hostile = "bad\x1b[2J\x1b]0;owned\x07  gateway\r\nlines\x9b31m"
    report = PollReport(
        feed_id="wire",
        status="error",
        new_items=0,
        seen_items=0,
        elapsed=0.5,
        next_due=datetime(2027, 1, 1, 9, 30, tzinfo=UTC),
        error=hostile,
    )
    out = io.StringIO()
    write_poll_table(out, [report])
    row = out.getvalue().splitlines()[1]
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", out.getvalue().replace("\n", ""))
    assert re.split(r"  +", row) == [
        "wire",
        "error",
        "0",
        "0",
        "0.50s",
        "2027-01-01 09:30",
        "bad?[2J?]0;owned? gateway? lines?31m",
    ]
    assert clean_cell("a\tb") == "a?b"
