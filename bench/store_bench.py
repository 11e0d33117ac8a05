"""The store at 10,000, 100,000 and 300,000 items: ingest, dedup look-ups, cold start, memory, disk.

Each size gets a data directory written through the store's ports in big
batches, in one transaction (realistic items, bench/corpus.py, first seen over
the last 180 days as a poller would have stored them, 1,000 feed states and
200 subscriptions in state.json). Each size is then measured in a fresh process of its own, on a
copy of that directory, so one size's memory cannot pollute the next:

- cold start: `TinyStore.open` (every file read and indexed);
- memory: the process's peak resident set (ru_maxrss) once the store is
  open, which includes the transient peak of opening, with the interpreter
  and the bot's imports (about 30 MB); and the peak at the end, after the
  ingestion runs added their items;
- dedup look-ups per second: `store.items.is_known` on a 50/50 mix of stored and
  unknown items (the check a poll makes for every entry of every feed);
- ingesting 1,000 and 10,000 new items: one transaction each, `tx.items.add`
  and its durable commit (temp file, fsync, rename, directory fsync), median
  of three;
- the size of the directory's files.

`python -m bench.store_bench build --size N --dir D` and `... measure --dir D`
are those two steps on their own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import load_average, make_subscriptions, max_rss_mb, repo_topics, rss_mb
from bench.corpus import ROOT, feed_ids, make_items
from bench.results import ScenarioResult, Target, median
from bot.models import FeedState, Item
from bot.store.ports import Transaction
from bot.store.tinydb.store import TinyStore

__all__ = ["FULL_SIZES", "QUICK_SIZES", "build_store", "ensure_store", "measure_store", "run"]

FULL_SIZES = (10_000, 100_000, 300_000)
QUICK_SIZES = (1_000,)
FEEDS = 1000
BATCH = 10_000
# The layout of what `build_store` writes; a directory built with another is rebuilt.
_BUILD_FORMAT = 1
_MARKER = "bench-built.json"
PROBES = 20_000  # half stored, half unknown; looked up PROBE_PASSES times
PROBE_PASSES = 5
# New items ingested (each count INGEST_REPEATS times) into each size.
FULL_INGEST = (1000, 10_000)
QUICK_INGEST = (100, 1000)
INGEST_REPEATS = 3
# The size the targets of issue 6 are judged at (the dedup rate is judged at every size).
JUDGED_SIZE = 100_000


def build_store(size: int, directory: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """Write `size` items (plus feed states and subscriptions) into a new data dir."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    if directory.exists():
        shutil.rmtree(directory)
    started = time.perf_counter()
    feeds = feed_ids(FEEDS)
    items = make_items(size, seed=size, now=now, feeds=feeds, tag=f"b{size}")
    # Stored in the order a poller would have found them, a batch at a time.
    items.sort(key=lambda item: item.when)
    # Everything in one transaction: one durable commit at the end.
    with TinyStore.open(directory) as store:
        with store.transaction() as tx:
            _build(tx, items, feeds, size=size, now=now)
        stored = store.items.count()
    seconds = time.perf_counter() - started
    (directory / _MARKER).write_text(
        json.dumps({"size": size, "format": _BUILD_FORMAT, "built": now.isoformat()})
    )
    return {"items": stored, "seconds": seconds}


def _build(
    tx: Transaction, items: list[Item], feeds: list[str], *, size: int, now: datetime
) -> None:
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        seen_at = max(item.when for item in batch) + timedelta(minutes=5)
        tx.items.add(batch, now=min(seen_at, now))
    for n, feed_id in enumerate(feeds):
        tx.feed_states.put(
            FeedState(
                feed_id=feed_id,
                last_attempt=now,
                last_success=now,
                last_status=200,
                etag=f'"{n}-0-{n:08x}"',
                next_due=now + timedelta(minutes=30),
                first_poll_done=True,
                items_stored=size // FEEDS,
            )
        )
    for sub in make_subscriptions(200, topics=repo_topics(), feeds=feeds, now=now):
        tx.subscriptions.put(sub)


def _built_size(directory: Path) -> int | None:
    try:
        marker = json.loads((directory / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("format") != _BUILD_FORMAT:
        return None
    size = marker.get("size")
    return size if isinstance(size, int) else None


def _run_child(args: list[str], timeout: float) -> dict[str, Any]:
    """Run `python -m bench.store_bench ARGS` and return the JSON it prints last."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.store_bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"bench.store_bench {' '.join(args)} failed ({completed.returncode}): "
            f"{completed.stderr.strip()[-3000:]}"
        )
    data: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return data


def ensure_store(size: int, workdir: Path) -> tuple[Path, float | None]:
    """A data dir of `size` items under `workdir` (built in a child process if missing).

    Returns the directory and the seconds the build took (None when it existed).
    """
    directory = workdir / "stores" / f"items-{size}"
    if _built_size(directory) == size:
        return directory, None
    directory.parent.mkdir(parents=True, exist_ok=True)
    built = _run_child(["build", "--size", str(size), "--dir", str(directory)], timeout=3600)
    return directory, float(built["seconds"])


def _probe(item: Item) -> Item:
    # Only what is_known looks at: the dedup keys (feed id, id, link/title key).
    return Item(id=item.id, feed_id=item.feed_id, title="", link_title_key=item.link_title_key)


def measure_store(
    directory: Path, *, size: int, ingest_sizes: Sequence[int] = FULL_INGEST, repeats: int = 3
) -> dict[str, Any]:
    """Measure a copy of `directory` in this (fresh) process; see the module docstring."""
    now = datetime.now(UTC)
    rss_start = rss_mb()
    scratch = Path(tempfile.mkdtemp(prefix="store-measure-", dir=directory.parent))
    copy = scratch / "data"
    try:
        shutil.copytree(directory, copy)
        started = time.perf_counter()
        store = TinyStore.open(copy)
        cold_start = time.perf_counter() - started
        try:
            rss_open = rss_mb()
            # The peak so far: opening included (file bytes and parsed JSON side by side).
            peak_open = max_rss_mb()
            stats = store.stats()
            shards = len(list(copy.glob("items-*.json")))
            lookups = _time_lookups(store, stats.last_seq, stats.items, now)
            ingest = _time_ingests(store, ingest_sizes, repeats, now)
        finally:
            store.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "size": size,
        "items": stats.items,
        "shards": shards,
        "cold_start_seconds": cold_start,
        "rss_before_open_mb": rss_start,
        "rss_after_open_mb": rss_open,
        "peak_rss_open_mb": peak_open,
        "peak_rss_mb": max_rss_mb(),
        "file_bytes": stats.bytes,
        **lookups,
        "ingest_seconds": {str(count): times for count, times in ingest.items()},
    }


def _time_lookups(store: TinyStore, last_seq: int, items: int, now: datetime) -> dict[str, Any]:
    """`is_known` over PROBES items, half stored and half unknown, PROBE_PASSES times."""
    rng = random.Random(5)
    seqs = rng.sample(range(1, last_seq + 1), min(PROBES // 2, items))
    known = [_probe(item) for item in store.items.by_seq(seqs)]
    unknown = [
        _probe(item)
        for item in make_items(
            PROBES - len(known), seed=99, now=now, feeds=feed_ids(FEEDS), tag="probe"
        )
    ]
    probes = [p for pair in zip(known, unknown, strict=False) for p in pair]
    hits = 0
    started = time.perf_counter()
    for _ in range(PROBE_PASSES):
        for probe in probes:
            hits += store.items.is_known(probe)
    lookup_seconds = time.perf_counter() - started
    lookups = len(probes) * PROBE_PASSES
    return {
        "lookups": lookups,
        "lookup_hits": hits,
        "lookups_per_second": lookups / lookup_seconds,
    }


def _time_ingests(
    store: TinyStore, ingest_sizes: Sequence[int], repeats: int, now: datetime
) -> dict[int, list[float]]:
    """Seconds of each transaction adding `count` new items, `repeats` times per count."""
    ingest: dict[int, list[float]] = {count: [] for count in ingest_sizes}
    for count, times in ingest.items():
        for repeat in range(repeats):
            new = make_items(
                count,
                seed=1000 + repeat,
                now=now,
                feeds=feed_ids(FEEDS),
                spread=timedelta(days=1),
                tag=f"new{count}-{repeat}",
            )
            started = time.perf_counter()
            with store.transaction() as tx:
                stored = tx.items.add(new, now=now)
            times.append(time.perf_counter() - started)
            if len(stored) != count:
                raise RuntimeError(f"stored {len(stored)} of {count} new items")
            del new, stored
    return ingest


def run(quick: bool, *, workdir: Path | None = None) -> ScenarioResult:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    result = ScenarioResult(
        "store", "store: " + " / ".join(f"{s:,}" for s in sizes) + " items", quick
    )
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="store-bench-"))
    measured: list[dict[str, Any]] = []
    try:
        for size in sizes:
            directory, build_seconds = ensure_store(size, base)
            command = ["measure", "--dir", str(directory), "--size", str(size)]
            numbers = _run_child([*command, "--quick"] if quick else command, timeout=3600)
            numbers["build_seconds"] = build_seconds
            measured.append(numbers)
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    for numbers in measured:
        _add_size(result, numbers)
    result.notes.append(
        "each size measured in a fresh process on a copy of its data dir; ingestion is the "
        f"median of {1 if quick else INGEST_REPEATS} runs, each on top of the last"
    )
    result.details = {"sizes": measured, "load_average": load_average(), "cpus": os.cpu_count()}
    return result


def _add_size(result: ScenarioResult, numbers: dict[str, Any]) -> None:
    """The metrics of one size; the targets are judged at JUDGED_SIZE, the dedup rate at all."""
    at = f"{numbers['size']:,} items"
    is_judged = numbers["size"] == JUDGED_SIZE

    def target(op: str, value: float, text: str) -> Target | None:
        return Target(op, value, text) if is_judged else None

    for count, times in numbers["ingest_seconds"].items():
        result.add(
            f"{at}: ingest {int(count):,} new (one transaction)",
            median(times),
            "s",
            target=target("<=", 2.0, "under 2 s") if int(count) == 10_000 else None,
        )
    result.add(
        f"{at}: dedup look-ups (items.is_known)",
        numbers["lookups_per_second"],
        "/s",
        target=Target(">=", 100_000, "above 100,000/s"),
    )
    result.add(
        f"{at}: cold start (TinyStore.open)",
        numbers["cold_start_seconds"],
        "s",
        target=target("<=", 3.0, "under 3 s"),
    )
    ingested = sum(int(c) for c in numbers["ingest_seconds"]) * len(
        next(iter(numbers["ingest_seconds"].values()))
    )
    result.add(
        f"{at}: memory (process peak RSS, opening included)",
        numbers["peak_rss_open_mb"],
        "MB",
        target=target("<=", 400.0, "under 400 MB"),
        note=f"{numbers['rss_after_open_mb']:.0f} MB resident once open, "
        f"{numbers['rss_before_open_mb']:.0f} MB of it the interpreter and imports; "
        f"{numbers['peak_rss_mb']:.0f} MB at the end, {ingested:,} items later",
    )
    result.add(
        f"{at}: files on disk",
        numbers["file_bytes"] / 1e6,
        "MB",
        note=f"{numbers['file_bytes'] / max(1, numbers['items']):,.0f} bytes per item, "
        f"{numbers['shards']} shards",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write a data dir of --size items")
    build.add_argument("--size", type=int, required=True)
    build.add_argument("--dir", type=Path, required=True)
    measure = sub.add_parser("measure", help="measure a copy of a built data dir")
    measure.add_argument("--dir", type=Path, required=True)
    measure.add_argument("--size", type=int, required=True)
    measure.add_argument("--quick", action="store_true", help="ingest 100 and 1,000, once")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build_store(args.size, args.dir)))
    elif args.quick:
        print(
            json.dumps(
                measure_store(args.dir, size=args.size, ingest_sizes=QUICK_INGEST, repeats=1)
            )
        )
    else:
        print(json.dumps(measure_store(args.dir, size=args.size, repeats=INGEST_REPEATS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
