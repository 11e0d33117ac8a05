"""Copying a TinyDB data directory into PostgreSQL (`briefbot migrate --from-data-dir`).

What is copied: every stored item under its own seq (cursors and story links
count in seqs), the tombstones (dedup keys of pruned items, so they never
come back as new), the feed states and every record table of state.json
(subscriptions, alert queue, sent keys and match cursor, digest and delivery
ledgers, overrides, ops notices, whatever tables a newer release added), and
the seq high-water mark, so new items get seqs above every copied one.

Idempotent and resumable: items go in batches, each its own transaction, and
every write skips what is there already (items and tombstones by seq, keys
by digest) or overwrites it with the same value (records); a copy that
stopped half-way is run again from the start and finishes. Afterwards the
counts are checked: every item and tombstone seq of the directory is in the
database, and every record table holds at least the directory's keys. The
directory is only read (as `briefbot search` reads it): stop `briefbot run`
first, or the copy misses what it stores meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.models import Item
from bot.store.ports import StoreError
from bot.store.postgres.db import Pooled
from bot.store.postgres.importer import (
    import_items,
    import_records,
    import_tombstones,
    raise_seq,
)
from bot.store.postgres.records import PgRecords
from bot.store.postgres.store import PgStore
from bot.store.records.repos import FEEDS_TABLE, RECORD_PREFIX
from bot.store.tinydb.store import TinyStore

__all__ = ["BATCH", "CopyReport", "copy_data_dir"]

#: Items per transaction.
BATCH = 1_000


@dataclass
class CopyReport:
    """What a copy found in the directory, and how much of it was new to the database."""

    items: int = 0
    items_new: int = 0
    tombstones: int = 0
    tombstones_new: int = 0
    records: dict[str, int] = field(default_factory=dict)  # table -> keys in the directory
    last_seq: int = 0

    def lines(self) -> list[str]:
        out = [
            f"items: {self.items} in the directory, {self.items_new} new to the database",
            f"tombstones: {self.tombstones}, {self.tombstones_new} new",
        ]
        out += [f"{table}: {count}" for table, count in sorted(self.records.items())]
        out.append(f"highest seq: {self.last_seq}")
        return out


def copy_data_dir(
    directory: Path, target: PgStore, *, progress: Callable[[str], None] = lambda _: None
) -> CopyReport:
    """Copy `directory` into `target` and check the counts; StoreError if they disagree."""
    if not directory.is_dir():
        raise StoreError(f"no data directory at {directory}")
    source = TinyStore.open(directory, read_only=True)
    try:
        report = CopyReport(last_seq=source.items.last_seq)
        for batch in _batches(source.items.after(0)):
            with target.transaction() as tx:
                report.items_new += import_items(tx, batch)
            report.items += len(batch)
            progress(f"items: {report.items}")
        stones = list(source.engine.tombstones())
        for start in range(0, len(stones), BATCH):
            with target.transaction() as tx:
                report.tombstones_new += import_tombstones(tx, stones[start : start + BATCH])
        report.tombstones = len(stones)
        state = source.engine.state
        with target.transaction() as tx:
            for table in state.tables():
                if table == FEEDS_TABLE or table.startswith(RECORD_PREFIX):
                    values = state.values(table)
                    import_records(tx, table, values)
                    report.records[table] = len(values)
            raise_seq(tx, report.last_seq)
        _check(source, stones, report, target)
        return report
    finally:
        source.close()


def _batches(items: Iterator[Item]) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _check(
    source: TinyStore,
    stones: list[tuple[int, datetime | None, list[str]]],
    report: CopyReport,
    target: PgStore,
) -> None:
    missing = []
    for batch in _batches(source.items.after(0)):
        found = {item.seq for item in target.items.by_seq([item.seq for item in batch])}
        missing += [item.seq for item in batch if item.seq not in found]
    problems = []
    if missing:
        problems.append(f"{len(missing)} items are not in the database (seq {missing[0]}, ...)")
    if target.stats().tombstones < len(stones):
        problems.append("tombstones are missing from the database")
    if target.items.last_seq < report.last_seq:
        problems.append(f"the database's highest seq is below {report.last_seq}")
    for table, count in report.records.items():
        if len(_record_keys(target, table)) < count:
            problems.append(f"{table}: fewer records in the database than the directory's {count}")
    if problems:
        raise StoreError("the copy does not check out: " + "; ".join(problems))


def _record_keys(target: PgStore, table: str) -> list[str]:
    return list(PgRecords(Pooled(target.pool)).values(table))
