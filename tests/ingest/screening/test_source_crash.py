"""`kill -9` between the commit of the screening list's changes and the write of its snapshot.

bot/ingest/screening/source.py stores a download's changes (items and the list's
feed state, ETag included) in one transaction and replaces the snapshot file
AFTER it. A real process polls the list served on loopback (today's format,
tests/fixtures/screening/csl_consolidated_2025_sample13.csv) and is killed with
SIGKILL the moment the snapshot write starts, i.e. after the commit. Then the
data directory is opened again, as after a restart, and polled again with the
server unchanged: no change may be stored twice, none lost, and the snapshot
must catch up with the download whose changes were stored (the stored ETag
belongs to it, so a conditional request alone would be answered 304 forever).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.config.schema import load_config
from bot.ingest.screening.diff import FEED_ID
from tests.support.feedserver import FeedServer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"
SAMPLE = FIXTURES / "csl_consolidated_2025_sample13.csv"
NEW_ROW = (
    '"00000000000000000000000000000000000000000000000000000001","Entity List (EL) - Bureau of '
    'Industry and Security","","","","Hefei Core Storage Electronic Limited","","Building 5, '
    '2800 Innovation Avenue, Hefei, Anhui, CN","87 FR 77505","2022-12-19","","","For all items '
    'subject to the EAR.","Presumption of denial.","","","","","","","","https://www.bis.doc.gov/'
    'entity-list","","","","","","","",""\n'
)
EXPECTED = [
    "Added to the Entity List (EL): Hefei Core Storage Electronic Limited (China)",
    "Removed from the Unverified List (UVL): Atlas Sanatgaran (Armenia)",
]

# The child polls the list once; with "crash" it dies by SIGKILL as the snapshot write starts.
CHILD = """
import os, signal, sys
from bot.app.runtime import Runtime
from bot.config.schema import load_config
from bot.ingest.screening.source import ScreeningSource

if sys.argv[2] == "crash":
    ScreeningSource._save = lambda self, *a, **k: os.kill(os.getpid(), signal.SIGKILL)
with Runtime.open(load_config(sys.argv[1])) as runtime:
    report = runtime.poll_screening_list(force=True)
    print("polled", report.status if report else None, flush=True)
"""


def _changed(body: bytes) -> bytes:
    """The sample with one row removed (UVL) and one Entity List row added."""
    kept = [
        line for line in body.decode().splitlines(keepends=True) if "Atlas Sanatgaran" not in line
    ]
    return ("".join(kept).rstrip("\r\n") + "\n" + NEW_ROW).encode()


def _child(config: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(config), mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_kill_9_between_commit_and_snapshot_stores_no_change_twice_and_loses_none(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"settings:\n  data_dir: {data}\nfeeds: []\n"
        f"screening_list:\n  url: {feed_server.url('/csl.csv')}\n  allow_private: true\n"
    )
    feed_server.add("/csl.csv", SAMPLE.read_bytes(), etag='"v1"', content_type="text/csv")
    first = _child(config, "clean")
    assert first.returncode == 0 and "polled first" in first.stdout, first.stderr

    feed_server.add("/csl.csv", _changed(SAMPLE.read_bytes()), etag='"v2"', content_type="text/csv")
    killed = _child(config, "crash")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    with Runtime.open(load_config(config)) as runtime:
        # The commit landed: both changes are stored, the state holds v2's ETag;
        # the snapshot is still v1's.
        stored = sorted(i.title for i in runtime.store.items.after(feed_ids=[FEED_ID]))
        assert stored == EXPECTED
        state = runtime.store.feed_states.get(FEED_ID)
        assert state is not None and state.etag == '"v2"'
        snapshot = runtime.screening.snapshot()
        assert snapshot is not None
        assert "Atlas Sanatgaran" in {e.name for e in snapshot.entries}

        # The restart's poll: the server unchanged.
        report = runtime.poll_screening_list(force=True)
        assert report is not None and report.status == "ok", report
        stored = sorted(i.title for i in runtime.store.items.after(feed_ids=[FEED_ID]))
        assert stored == EXPECTED, "no change stored twice, none lost"
        snapshot = runtime.screening.snapshot()
        assert snapshot is not None
        names = {e.name for e in snapshot.entries}
        assert "Hefei Core Storage Electronic Limited" in names
        assert "Atlas Sanatgaran" not in names

        # And from then on the list is asked for conditionally again.
        report = runtime.poll_screening_list(force=True)
        assert report is not None and report.status == "not-modified"
        assert feed_server.requests("/csl.csv")[-1].header("If-None-Match") == '"v2"'
        assert sorted(i.title for i in runtime.store.items.after(feed_ids=[FEED_ID])) == EXPECTED
