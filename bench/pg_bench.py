"""PostgreSQL at 1,000,000 items: ingest, dedup look-ups, search, claims (issue 16, part 7).

A cluster of its own (bench/pgserver.py) holds a database of 1,000,000 items
loaded by bench/pg_load.py (5,000 feeds, 180 days; `--quick`: 5,000 items);
with `--workdir` both are kept and re-used. Measured with PostgreSQL's
durable settings, through briefbot's own backend (`PgStore`, `PgSearch`):

- a poll cycle's storing, as `bot/ingest/poll.py` does it: 100 changed feeds
  of 30 entries each (3,000 entries, 300 of them new), `items.which_known`
  for each feed's entries (one statement a feed), then one transaction adding
  each feed's new items and putting its feed state; and one feed's poll alone
  (30 entries, 3 new); median of 5. The same entries are also asked one at a
  time with `items.is_known` (what a poll did before), for the comparison;
- 1,000 new items in one transaction (`tx.items.add` + commit), median of 3;
- dedup look-ups: `items.is_known` one at a time (what a poll calls), and in
  batches of 1,000 items with the statement `items.add` runs
  (`digest = ANY(...)`), on a 50/50 mix of stored and unknown items;
- search: the 50 queries of bench/search_bench.py through `PgSearch.search_text`
  (10 hits), scoped to one workspace's 100 feeds (about 20,000 items) three
  times each, and over the whole corpus once each;
- claims per second: a standalone table in the shape of the design note
  (`due_at`, `lease_until`, `leased_by`), 50,000 due rows claimed by four
  worker threads, each with its own connection, with `UPDATE ... WHERE id IN
  (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 25) RETURNING id`, each batch then
  finished (next due time set, lease cleared where still ours). This is the
  SQL pattern on its own, not briefbot's claims (being built elsewhere).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.common import load_average
from bench.corpus import make_items
from bench.pg_load import WORKSPACE_FEEDS, bench_feeds, build, built_size
from bench.pgserver import PgCluster, PgUnavailable
from bench.results import ScenarioResult, Target, median, percentile
from bench.search_bench import QUERIES
from bot.models import FeedState, Item, replace
from bot.store.postgres.db import Pooled
from bot.store.postgres.items import item_row
from bot.store.postgres.search import PgSearch
from bot.store.postgres.store import PgStore
from bot.store.records.codec import doc_to_item, item_to_doc, key_digest

__all__ = ["FULL_SIZE", "QUICK_SIZE", "ensure_database", "run"]

FULL_SIZE = 1_000_000
QUICK_SIZE = 5_000


def ensure_database(workdir: Path, size: int) -> tuple[PgCluster, str, dict[str, Any]]:
    """The cluster (started to measure) and the URL of a database of `size` items.

    Built first when missing; the build's figures are returned (with "reused"
    when an earlier run built it).
    """
    cluster = PgCluster(workdir / "postgres")
    name = f"items_{size}"
    record = workdir / f"postgres-{name}.json"  # the build's figures, for a later run
    cluster.start("measure")
    if built_size(cluster.url(name)) == size:
        try:
            recorded: dict[str, Any] = json.loads(record.read_text())
        except (OSError, ValueError):
            recorded = {}
        return cluster, cluster.url(name), {**recorded, "reused": True}
    cluster.start("bulk")
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)".encode())
        conn.execute(f"CREATE DATABASE {name}".encode())
    started = time.perf_counter()
    figures = build(cluster.url(name), size, now=datetime.now(UTC).replace(microsecond=0))
    figures["seconds"] = time.perf_counter() - started
    record.write_text(json.dumps(figures))
    cluster.start("measure")  # a restart: the load's settings were not durable
    return cluster, cluster.url(name), figures


CYCLE_FEEDS = 100
ENTRIES_PER_FEED = 30
NEW_PER_FEED = 3
REPEATS = 5
INGEST = 1_000
PROBES = 2_000  # half stored, half unknown
BATCH = 1_000
SEARCH_RUNS = 3
CLAIM_ROWS = 50_000
CLAIM_BATCH = 25
CLAIM_WORKERS = 4


def _probe(item: Item) -> Item:
    # Only what is_known looks at: the dedup keys (feed id, id, link/title key).
    return Item(id=item.id, feed_id=item.feed_id, title="", link_title_key=item.link_title_key)


def _stored_sample(store: PgStore, count: int, seed: int) -> list[Item]:
    last = store.items.last_seq
    seqs = random.Random(seed).sample(range(1, last + 1), min(count, last))
    return store.items.by_seq(seqs)


def _poll_cycle(store: PgStore, feeds: list[str], now: datetime, tag: str) -> dict[str, float]:
    """Store one cycle of `feeds` (see the module docstring); its seconds, in two parts."""
    count = len(feeds)
    seed = zlib.crc32(tag.encode())
    new = make_items(
        count * NEW_PER_FEED,
        seed=seed,
        now=now,
        feeds=feeds,
        spread=timedelta(hours=1),
        tag=tag,
    )
    known = [
        _probe(i) for i in _stored_sample(store, count * (ENTRIES_PER_FEED - NEW_PER_FEED), seed)
    ]
    entries = [*known, *new]
    random.Random(7).shuffle(entries)
    started = time.perf_counter()
    one_by_one = [entry for entry in entries if not store.items.is_known(entry, former=False)]
    per_entry = time.perf_counter() - started
    # A feed's 30 parsed entries per question, as poll.py asks (the stored ones are
    # sampled from any feed: only the number and size of the questions matter here).
    chunks = [entries[n : n + ENTRIES_PER_FEED] for n in range(0, len(entries), ENTRIES_PER_FEED)]
    started = time.perf_counter()
    unknown: list[Item] = []
    for chunk in chunks:
        flags = store.items.which_known(chunk, former=False)
        unknown += [item for item, old in zip(chunk, flags, strict=True) if not old]
    looked_up = time.perf_counter()
    if unknown != one_by_one:
        raise RuntimeError("which_known and is_known disagree")
    by_feed: dict[str, list[Item]] = {feed: [] for feed in feeds}
    for item in unknown:
        by_feed[item.feed_id].append(item)
    stored = 0
    with store.transaction() as tx:
        for feed, items in by_feed.items():
            stored += len(tx.items.add(items, now=now))
            tx.feed_states.put(
                FeedState(
                    feed_id=feed,
                    last_attempt=now,
                    last_success=now,
                    last_status=200,
                    next_due=now + timedelta(minutes=30),
                    first_poll_done=True,
                )
            )
    done = time.perf_counter()
    if stored != len(new):
        raise RuntimeError(f"a poll cycle stored {stored} of {len(new)} new items")
    return {
        "lookups": looked_up - started,
        "lookups_per_entry": per_entry,
        "transaction": done - looked_up,
        "total": done - started,
    }


def _ingest(store: PgStore, feeds: list[str], now: datetime, repeats: int) -> dict[str, Any]:
    """Seconds of each 1,000-item transaction; and of making its rows alone, in Python."""
    times, rows = [], []
    for repeat in range(repeats):
        new = make_items(
            INGEST,
            seed=500 + repeat,
            now=now,
            feeds=feeds,
            spread=timedelta(days=1),
            tag=f"ingest-{now:%H%M%S}-{repeat}",
        )
        started = time.perf_counter()
        for n, item in enumerate(new, start=1):  # what items.add computes before writing
            kept = replace(item, first_seen=now, seq=n)
            item_row(doc_to_item(item_to_doc(kept)), item_to_doc(kept))
        rows.append(time.perf_counter() - started)
        started = time.perf_counter()
        with store.transaction() as tx:
            stored = tx.items.add(new, now=now)
        times.append(time.perf_counter() - started)
        if len(stored) != INGEST:
            raise RuntimeError(f"stored {len(stored)} of {INGEST} new items")
    return {"seconds": times, "rows_seconds": rows}


def _lookups(store: PgStore, feeds: list[str], now: datetime) -> dict[str, float]:
    """is_known one by one, and the digests of BATCH items per statement, on a 50/50 mix."""
    known = [_probe(item) for item in _stored_sample(store, PROBES // 2, 5)]
    unknown = [
        _probe(i) for i in make_items(len(known), seed=99, now=now, feeds=feeds, tag="probe")
    ]
    probes = [p for pair in zip(known, unknown, strict=True) for p in pair]
    started = time.perf_counter()
    hits = sum(store.items.is_known(probe) for probe in probes)
    single = time.perf_counter() - started
    db = Pooled(store.pool)
    batches = [probes[i : i + BATCH] for i in range(0, len(probes), BATCH)] * 10
    found = 0
    started = time.perf_counter()
    for batch in batches:
        digests = [key_digest(key) for item in batch for key in item.lookup_keys]
        found += len(
            db.rows("SELECT digest, seq FROM item_keys WHERE digest = ANY(%s)", (digests,))
        )
    batched = time.perf_counter() - started
    if hits != len(known):
        raise RuntimeError(f"is_known found {hits} of {len(known)} stored items")
    return {
        "single_per_second": len(probes) / single,
        "batched_per_second": sum(len(b) for b in batches) / batched,
    }


def _search(
    store: PgStore,
    scope: list[str] | None,
    tags: dict[str, tuple[str, ...]],
    now: datetime,
    runs: int,
) -> dict[str, Any]:
    if scope is not None:  # the feeds searched are those it is given tags of
        tags = {feed: tags.get(feed, ()) for feed in scope}
    search = PgSearch(Pooled(store.pool), feed_tags=tags, scoped=scope is not None)
    times: list[float] = []
    by_query: dict[str, list[float]] = {query: [] for query in QUERIES}
    empty = 0
    for _ in range(runs):
        for query in QUERIES:
            started = time.perf_counter()
            results = search.search_text(query, now=now, limit=10)
            times.append((time.perf_counter() - started) * 1000)
            by_query[query].append(times[-1])
            empty += not results.hits
    later = times[len(QUERIES) :]  # each query's runs after its first
    slowest = sorted(by_query, key=lambda q: -max(by_query[q]))[:5]
    return {
        "p50_ms": percentile(times, 0.5),
        "p95_ms": percentile(times, 0.95),
        "p95_later_runs_ms": percentile(later, 0.95) if later else None,
        "max_ms": max(times),
        "searches": len(times),
        "without_hits": empty // runs,
        "slowest": {query: by_query[query] for query in slowest},
    }


_CLAIM = (
    "UPDATE bench_claims SET lease_until = now() + interval '5 minutes', leased_by = %s"
    " WHERE id IN (SELECT id FROM bench_claims WHERE due_at <= now()"
    " AND (lease_until IS NULL OR lease_until < now())"
    " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id"
)
_FINISH = (
    "UPDATE bench_claims SET due_at = now() + interval '30 minutes', lease_until = NULL,"
    " leased_by = NULL WHERE id = ANY(%s) AND leased_by = %s"
)


def _claims(url: str, rows: int) -> dict[str, Any]:
    """CLAIM_WORKERS threads claim and finish `rows` due rows; the rate, and repeats (none)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_claims (id bigint PRIMARY KEY,"
            " due_at timestamptz NOT NULL, lease_until timestamptz, leased_by text)"
        )
        conn.execute("CREATE INDEX IF NOT EXISTS bench_claims_due ON bench_claims (due_at)")
        conn.execute("TRUNCATE bench_claims")
        conn.execute(
            "INSERT INTO bench_claims (id, due_at) SELECT n, now() - n * interval '1 ms'"
            " FROM generate_series(1, %s) n",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE bench_claims")
    claimed: list[list[int]] = [[] for _ in range(CLAIM_WORKERS)]
    errors: list[BaseException] = []
    ready = threading.Barrier(CLAIM_WORKERS + 1)

    def worker(n: int) -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                ready.wait()
                while True:
                    ids = [r[0] for r in conn.execute(_CLAIM, (f"w{n}", CLAIM_BATCH)).fetchall()]
                    if not ids:
                        return
                    conn.execute(_FINISH, (ids, f"w{n}"))
                    claimed[n].extend(ids)
        except BaseException as exc:
            errors.append(exc)
            ready.abort()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CLAIM_WORKERS)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    counts = Counter(i for ids in claimed for i in ids)
    return {
        "rows": rows,
        "claimed": len(counts),
        "claimed_twice": sum(1 for c in counts.values() if c > 1),
        "per_worker": [len(ids) for ids in claimed],
        "seconds": seconds,
        "per_second": sum(counts.values()) / seconds,
    }


def _database_bytes(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def measure(url: str, *, quick: bool) -> dict[str, Any]:
    """Every measurement of the module docstring on the database at `url`."""
    feeds, tags = bench_feeds()
    workspace = feeds[:WORKSPACE_FEEDS]
    now = datetime.now(UTC)
    numbers: dict[str, Any] = {"load_before": load_average()}
    with PgStore.open(url) as store:
        numbers["items"] = store.items.count()
        repeats = 1 if quick else REPEATS
        numbers["cycle"] = [
            _poll_cycle(
                store, random.Random(r).sample(feeds, CYCLE_FEEDS), now, f"cycle{r}-{now:%H%M%S}"
            )
            for r in range(repeats)
        ]
        numbers["one_feed"] = [
            _poll_cycle(store, [feeds[r]], now, f"one{r}-{now:%H%M%S}") for r in range(repeats)
        ]
        numbers["ingest"] = _ingest(store, feeds, now, 1 if quick else 3)
        numbers["lookups"] = _lookups(store, feeds, now)
        scoped = _search(store, workspace, tags, now, 1 if quick else SEARCH_RUNS)
        scoped["items"] = sum(
            int(r[0])
            for r in Pooled(store.pool).rows(
                "SELECT count(*) FROM items WHERE feed_id = ANY(%s)", (workspace,)
            )
        )
        numbers["search_scoped"] = scoped
        numbers["search_all"] = _search(store, None, tags, now, 1)
    numbers["claims"] = _claims(url, 2_000 if quick else CLAIM_ROWS)
    numbers["database_bytes"] = _database_bytes(url)
    numbers["load_after"] = load_average()
    return numbers


def run(quick: bool, *, workdir: Path | None = None) -> ScenarioResult:
    size = QUICK_SIZE if quick else FULL_SIZE
    result = ScenarioResult("postgres", f"PostgreSQL at {size:,} items", quick)
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="pg-bench-"))
    try:
        try:
            cluster, url, built = ensure_database(base, size)
        except PgUnavailable as exc:
            result.status, result.reason = "not run", str(exc)
            return result
        try:
            numbers = measure(url, quick=quick)
        finally:
            cluster.stop()
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    numbers["build"] = built
    numbers["cpus"] = os.cpu_count()
    _report(result, numbers)
    return result


def _report(result: ScenarioResult, numbers: dict[str, Any]) -> None:
    _report_storage(result, numbers)
    scoped, whole = _report_search(result, numbers)
    claims = numbers["claims"]
    result.add(
        f"claims, {CLAIM_WORKERS} workers (SKIP LOCKED, {CLAIM_BATCH} a claim)",
        claims["per_second"],
        "/s",
        note=f"{claims['claimed']:,} of {claims['rows']:,} rows claimed, "
        f"{claims['claimed_twice']} twice",
    )
    result.add("database on disk", numbers["database_bytes"] / 1e9, "GB")
    built = numbers["build"]
    if "copy_seconds" in built:
        result.add(
            "bulk load (COPY, 2 processes)",
            built["copy_seconds"],
            "s",
            note=f"{built['items'] / built['copy_seconds']:,.0f} items/s; then the indexes "
            f"{built['index_seconds']:.0f} s, VACUUM ANALYZE {built['analyze_seconds']:.0f} s"
            + ("; built by an earlier run" if built.get("reused") else ""),
        )
    result.notes += [
        "PostgreSQL's durable defaults (fsync, synchronous_commit on), shared_buffers 1 GB, "
        "server and bench on the same machine, over a Unix socket",
        f"search: {scoped['searches']} scoped and {whole['searches']} whole-corpus searches of "
        f"the {len(QUERIES)} queries of bench/search_bench.py; {scoped['without_hits']} queries "
        "found nothing in the workspace",
        "claims: the SQL pattern of the design note measured standalone (a bench table), "
        "not briefbot's own claims",
        f"load average {numbers['load_before']} before, {numbers['load_after']} after "
        f"({numbers['cpus']} cores, shared)",
    ]
    result.details = numbers


def _report_storage(result: ScenarioResult, numbers: dict[str, Any]) -> None:
    cycle = numbers["cycle"]
    result.add(
        f"poll cycle's storing: {CYCLE_FEEDS} feeds, {CYCLE_FEEDS * ENTRIES_PER_FEED:,} entries, "
        f"{CYCLE_FEEDS * NEW_PER_FEED} new",
        median([c["total"] for c in cycle]),
        "s",
        note=f"which_known per feed {median([c['lookups'] for c in cycle]):.3f} s + "
        f"one transaction {median([c['transaction'] for c in cycle]):.3f} s",
    )
    result.add(
        "the same cycle's look-ups one entry at a time (is_known, as before)",
        median([c["lookups_per_entry"] for c in cycle]),
        "s",
    )
    one = numbers["one_feed"]
    result.add(
        f"one feed's poll: {ENTRIES_PER_FEED} entries, {NEW_PER_FEED} new, one transaction",
        median([c["total"] * 1000 for c in one]),
        "ms",
        note=f"transaction {median([c['transaction'] * 1000 for c in one]):.1f} ms",
    )
    ingest = numbers["ingest"]
    result.add(
        f"ingest {INGEST:,} new (one transaction)",
        median(ingest["seconds"]),
        "s",
        note=f"of which {median(ingest['rows_seconds']):.2f} s making the rows in Python "
        "(JSON, analyzer tokens)",
    )
    lookups = numbers["lookups"]
    result.add("dedup look-ups: items.is_known, one at a time", lookups["single_per_second"], "/s")
    result.add(
        f"dedup look-ups: {BATCH:,} items a statement (as items.add)",
        lookups["batched_per_second"],
        "/s",
    )


def _report_search(
    result: ScenarioResult, numbers: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    scoped, whole = numbers["search_scoped"], numbers["search_all"]
    scope = f"one workspace ({WORKSPACE_FEEDS} feeds, {scoped['items']:,} items)"
    result.add(f"search p50, {scope}", scoped["p50_ms"], "ms")
    result.add(
        f"search p95, {scope}",
        scoped["p95_ms"],
        "ms",
        target=Target("<=", 150.0, "under 150 ms"),
        note=""
        if scoped["p95_later_runs_ms"] is None
        else f"{scoped['p95_later_runs_ms']:.0f} ms over each query's later runs",
    )
    result.add("search p50, whole corpus", whole["p50_ms"], "ms")
    result.add("search p95, whole corpus", whole["p95_ms"], "ms")
    return scoped, whole
