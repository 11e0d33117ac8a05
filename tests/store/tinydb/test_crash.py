"""`kill -9` in the middle of `briefbot poll`, then a restart: nothing lost, nothing repeated."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.store.tinydb.engine import Store
from tests.support.feedgen import make_rss, numbered_entries

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


@pytest.mark.slow
def test_kill_during_poll_loses_nothing_and_repeats_nothing(feed_server, tmp_path):
    rng = random.Random(int(os.environ.get("BRIEFBOT_CRASH_SEED", "7")))
    data = tmp_path / "data"
    config = tmp_path / "feeds.yaml"
    served = 0
    urls = {}
    for n in range(FEEDS):
        urls[f"f{n}"] = feed_server.url(f"/f{n}.xml")
    write_config(config, urls, data)

    killed = completed = 0
    for trial in range(TRIALS):
        served = 40 + 25 * trial
        for n in range(FEEDS):
            body = make_rss(numbered_entries(1, served, prefix=f"F{n} story"))
            feed_server.add(f"/f{n}.xml", body, delay=0.02)
        ok, out = run_poll(config, kill_after=rng.uniform(0.3, 2.0))
        if ok:
            completed += 1
            assert "feeds polled" in out
        else:
            killed += 1
        # Whatever happened, the data directory opens and is consistent.
        with Store.open(data) as store:
            items = list(store.iter_items())
            seqs = [i.seq for i in items]
            assert len(seqs) == len(set(seqs))
            keys = [(i.feed_id, i.id) for i in items]
            assert len(keys) == len(set(keys)), "an item was stored twice"
            if ok:
                assert len(items) == FEEDS * served, out

    ok, out = run_poll(config, kill_after=None)
    assert ok, out
    with Store.open(data) as store:
        items = list(store.iter_items())
        assert len(items) == FEEDS * served
        assert len({(i.feed_id, i.id) for i in items}) == FEEDS * served
    assert killed >= 1, "no trial was killed mid-run: the test did not test the crash"
