"""Copying a TinyDB data directory into PostgreSQL: everything, seqs kept, resumable, checked.

The directory is the one release 0.1 wrote (tests/fixtures/release-0.1): items,
tombstones of pruned items, subscriptions, a queue, sent keys, cursors.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.models import Item
from bot.store import transfer
from bot.store.postgres.store import PgStore
from bot.store.tinydb.store import TinyStore
from tests.support import paths

RELEASE = paths.FIXTURES / "release-0.1"
EXPECTED = json.loads((RELEASE / "expected.json").read_text())
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Stop(Exception):
    pass


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(RELEASE / "data", copy)
    return copy


@pytest.fixture
def target(database_url: str) -> Iterator[PgStore]:
    with PgStore.open(database_url) as store:
        yield store


def test_everything_is_copied_with_its_seq(data: Path, target: PgStore) -> None:
    report = transfer.copy_data_dir(data, target)
    assert (report.items, report.items_new) == (15, 15)
    assert (report.tombstones, report.tombstones_new) == (6, 6)
    assert report.last_seq == EXPECTED["last_seq"]
    with TinyStore.open(data, read_only=True) as source:
        assert list(target.items.after()) == list(source.items.after())
        assert target.subscriptions.list() == source.subscriptions.list()
        assert target.feed_states.all() == source.feed_states.all()
        assert target.alerts.match_cursor() == EXPECTED["match_cursor"]
        assert sorted(a.key for a in target.alerts.queued()) == EXPECTED["queued"]
        assert sorted(target.alerts.sent_keys()) == EXPECTED["sent"]
        assert target.digests.get("C0DIGEST01") == source.digests.get("C0DIGEST01")
    # Pruned items stay known; new items get seqs above every copied one.
    pruned = next(iter(EXPECTED["pruned"]))
    with target.transaction() as tx:
        assert tx.items.add([Item(id=pruned, feed_id="fr-bis", title="again")], now=NOW) == []
        [new] = tx.items.add([Item(id="brand-new", feed_id="fr-bis", title="New")], now=NOW)
    assert new.seq == EXPECTED["last_seq"] + 1


def test_a_copy_run_again_changes_nothing(data: Path, target: PgStore) -> None:
    transfer.copy_data_dir(data, target)
    again = transfer.copy_data_dir(data, target)
    assert (again.items_new, again.tombstones_new) == (0, 0)
    assert target.items.count() == 15


def test_an_interrupted_copy_resumes(
    data: Path, target: PgStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer, "BATCH", 4)
    seen: list[str] = []

    def stop_after_two_batches(message: str) -> None:
        seen.append(message)
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        transfer.copy_data_dir(data, target, progress=stop_after_two_batches)
    assert target.items.count() == 8  # two whole batches, committed
    report = transfer.copy_data_dir(data, target)
    assert (report.items, report.items_new) == (15, 7)
    assert target.items.count() == 15
