"""`kill -9` mid-commit, a crash between the item shards and state.json, and mid-poll.

Real processes (tests/support/store_worker.py, `python -m bot poll`), killed
for real; then the data directory is opened again as after a restart.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import NOW, add, committed_lines, item, start_worker
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.store_worker import CRASH_EXIT, make_batch

# BRIEFBOT_STORE_CRASH_TRIALS=50 for a longer hunt; each trial takes ~0.5 s.
CRASH_TRIALS = int(os.environ.get("BRIEFBOT_STORE_CRASH_TRIALS", "5"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1, CRASH_TRIALS + 1), ids=lambda s: f"seed-{s}")
def test_kill_9_loses_no_committed_item(tmp_path: Path, seed: int) -> None:
    data = tmp_path / "data"
    worker = start_worker("loop", str(data), str(seed))
    assert worker.stdout is not None
    first = worker.stdout.readline()
    assert first.startswith("committed"), first + (worker.stderr.read() if worker.stderr else "")
    # Different random delays land the kill in different phases of a commit.
    time.sleep(random.Random(seed).uniform(0.01, 0.6))
    worker.send_signal(signal.SIGKILL)
    rest, _ = worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    last_seq, count, last_round = committed_lines(first + rest)[-1]

    with TinyStore.open(data) as s:
        items = list(s.items.after())
        assert [i.seq for i in items] == list(range(1, len(items) + 1))
        assert s.items.last_seq == len(items) >= last_seq
        assert s.items.count() >= count
        stored_ids = {i.id for i in items}
        assert len(stored_ids) == len(items)
        # Every item of every reported round is there: rounds 0..last_round
        # hold exactly `count` distinct ids.
        reported = {i.id for i in items if int(i.id[1:].split("-")[0]) <= last_round}
        assert len(reported) == count
        # The match cursor, committed with the items, never points past them.
        assert last_seq <= s.alerts.match_cursor() <= len(items)
        (next_item,) = add(s, [item("after-restart")])
        assert next_item.seq == len(items) + 1
    assert not list(data.glob(".*.tmp")), "a crash leftover temp file survived reopening"


@pytest.mark.slow
def test_crash_between_shards_and_state_loses_no_item(tmp_path: Path) -> None:
    data = tmp_path / "data"
    worker = start_worker("crash-between", str(data))
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == CRASH_EXIT, out + err
    assert committed_lines(out) == [(50, 50, 0)]

    with TinyStore.open(data) as s:
        # Batch B's items reached disk, its feed state and cursor did not:
        # the ETag is still A's, so the next poll refetches B...
        assert s.items.count() == 120
        assert s.items.last_seq == 120
        state = s.feed_states.get("fr-bis")
        assert state is not None
        assert state.etag == '"A"'
        assert s.alerts.match_cursor() == 50
        # ...and dedup drops what it brings again; seq continues past B.
        assert add(s, make_batch("b", 70)) == []
        (fresh,) = add(s, [item("c-0")], now=NOW)
        assert fresh.seq == 121
        assert [i.id for i in s.items.after(50)][:2] == ["b-0", "b-1"]


# ------------------------------------------------------------------ a whole poll, killed

FEEDS = 6
TRIALS = int(os.environ.get("BRIEFBOT_CRASH_TRIALS", "6"))


def write_config(path: Path, urls: dict[str, str], data_dir: Path) -> None:
    lines = [f"settings:\n  data_dir: {data_dir}\n  total_timeout: 10\nfeeds:"]
    for fid, url in urls.items():
        lines.append(f"  - id: {fid}\n    url: {url}\n    allow_private: true")
    path.write_text("\n".join(lines) + "\n")


def run_poll(config: Path, kill_after: float | None) -> tuple[bool, str]:
    """Run `python -m bot poll`; SIGKILL it after `kill_after` seconds if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "poll"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    if kill_after is not None:
        time.sleep(kill_after)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode == 0, out


def time_whole_poll(folder: Path, urls: dict[str, str], server: FeedServer, served: int) -> float:
    """Seconds one poll of `urls`, serving `served` entries each, takes into `folder`."""
    for n in range(FEEDS):
        body = make_rss(numbered_entries(1, served, prefix=f"F{n} story"))
        server.add(f"/f{n}.xml", body, delay=0.02)
    folder.mkdir()
    write_config(folder / "feeds.yaml", urls, folder / "data")
    started = time.perf_counter()
    ok, out = run_poll(folder / "feeds.yaml", kill_after=None)
    assert ok, out
    return time.perf_counter() - started


@pytest.mark.slow
def test_kill_during_poll_loses_nothing_and_repeats_nothing(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("BRIEFBOT_CRASH_SEED", "7")))
    data = tmp_path / "data"
    config = tmp_path / "feeds.yaml"
    served = 0
    urls = {}
    for n in range(FEEDS):
        urls[f"f{n}"] = feed_server.url(f"/f{n}.xml")
    write_config(config, urls, data)
    # The kill times are fractions of one whole poll's time measured here (the
    # largest trial's feeds into a data directory of its own): fixed times went
    # stale as the poll got faster, and every trial completed before its kill.
    whole = time_whole_poll(tmp_path / "calibrate", urls, feed_server, 40 + 25 * (TRIALS - 1))

    killed = completed = 0
    for trial in range(TRIALS):
        served = 40 + 25 * trial
        for n in range(FEEDS):
            body = make_rss(numbered_entries(1, served, prefix=f"F{n} story"))
            feed_server.add(f"/f{n}.xml", body, delay=0.02)
        ok, out = run_poll(config, kill_after=rng.uniform(0.2, 1.0) * whole)
        if ok:
            completed += 1
            assert "feeds polled" in out
        else:
            killed += 1
        # Whatever happened, the data directory opens and is consistent.
        with TinyStore.open(data) as store:
            items = list(store.items.after())
            seqs = [i.seq for i in items]
            assert len(seqs) == len(set(seqs))
            keys = [(i.feed_id, i.id) for i in items]
            assert len(keys) == len(set(keys)), "an item was stored twice"
            if ok:
                assert len(items) == FEEDS * served, out

    ok, out = run_poll(config, kill_after=None)
    assert ok, out
    with TinyStore.open(data) as store:
        items = list(store.items.after())
        assert len(items) == FEEDS * served
        assert len({(i.feed_id, i.id) for i in items}) == FEEDS * served
    assert killed >= 1, "no trial was killed mid-run: the test did not test the crash"
