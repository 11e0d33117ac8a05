"""Benchmark of bot.find.search: index build time and memory, query latency at 100,000 items.

Run as `python -m bench.search_bench [--quick] [--items N] [--json]`; the bench
harness calls `run(quick)` and gets a dict of the numbers.

The corpus is made from real feeds (/work/shared/feeds-corpus/policy, else
tests/fixtures/feeds) parsed with `bot.ingest.parse.parse_feed`, replicated to N
items with varied ids, dates (spread over 180 days, the default retention),
feeds, a swapped title word and a summary sentence borrowed from another real
item, so the vocabulary is real and items weigh about 1.3 KB as the store
writes them. 2% are marked copies of an earlier story (`duplicate_of`).

Memory is the growth of the process's resident set while indexing, with the
index built as the bot builds it (`load_items`, so it keeps no items of its
own); build time is that of `add_many` in chunks of 2,000, as
`build_in_background` does. Latency is over 50 queries of the kinds users
type (topics, plain questions, phrases, filters, NOT, wildcards, Japanese),
each run 3 times, through `search_text` (parsing included), 10 hits each.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bot.find.search.index import SearchIndex
from bot.ingest.parse import parse_feed
from bot.models import Item, replace
from bot.store.tinydb.store import TinyStore

CORPUS_DIR = Path("/work/shared/feeds-corpus/policy")
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "feeds"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FULL_ITEMS = 100_000
QUICK_ITEMS = 10_000
RUNS_PER_QUERY = 3

FEED_TAGS = {
    "fr-bis": ("us", "export-controls"),
    "fr-ita": ("us", "trade"),
    "fr-documents": ("us",),
    "reuters": ("news",),
    "economist": ("news",),
    "nikkei": ("japan", "news"),
    "kanpo": ("japan", "gazette"),
    "meti": ("japan", "economic-security"),
    "scmp": ("china", "news"),
    "ustr": ("us", "trade"),
}

QUERIES = [
    # the shipped topics
    '"entity list"',
    '"export control" OR "export administration regulations" OR EAR OR ITAR'
    ' OR "foreign direct product"',
    'semiconductor* OR chip OR chips OR "integrated circuit" OR lithography OR wafer*',
    'IPEF OR "indo-pacific economic framework"',
    '"economic security" OR "supply chain resilience"',
    '"rare earth" OR "critical mineral" OR gallium OR germanium',
    # plain questions
    "what's new on IPEF",
    "anything about rare earth exports this week?",
    "tell me about the entity list",
    "news on chip export restrictions",
    "latest on Japan economic security",
    "what happened with sanctions on Russia",
    "any updates on semiconductor tariffs",
    "China trade talks",
    "export controls",
    "semiconductors",
    "rare earths",
    "critical minerals China",
    "Entity List additions",
    "Huawei",
    # phrases
    '"export administration regulations"',
    '"south china sea"',
    '"supply chain"',
    '"national security"',
    '"federal register"',
    '"trade deal"',
    '"prime minister" japan',
    # filters
    "feed:fr-bis since:7d",
    "tag:export-controls since:30d",
    "china since:7d",
    "sanctions feed:reuters",
    "before:2026-09-01 entity",
    "tag:japan security",
    "feed:kanpo",
    "since:24h",
    "tariff* since:14d -china",
    # NOT and OR
    "china -taiwan",
    "trade NOT tariff",
    "(japan OR korea) semiconductor*",
    "export* -china",
    "security NOT (china OR russia)",
    "ukraine OR russia",
    "iran OR israel OR gaza",
    # wildcards and single words
    "semiconduct*",
    "polic*",
    "sanction*",
    "election",
    # Japanese
    "経済安全保障",
    "半導体",
    "告示",
]

_TITLE_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


def load_real_items(folder: Path | None = None) -> list[Item]:
    """Parse every feed file of the policy corpus (else the test fixtures) into items."""
    if folder is None:
        folder = CORPUS_DIR if CORPUS_DIR.is_dir() else FIXTURES_DIR
    items: list[Item] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in (".xml", ".rss", ".rdf", ".atom"):
            continue
        feed_id = path.name.split("_")[0].split(".")[0]
        result = parse_feed(feed_id, path.read_bytes(), fetched_at=NOW, time_limit=None)
        items.extend(result.items)
    return items


def generate_corpus(count: int, *, seed: int = 7, real: Sequence[Item] | None = None) -> list[Item]:
    """Return `count` items made from real ones (see the module docstring), seqs 1..count."""
    rng = random.Random(seed)
    base = list(real) if real is not None else load_real_items()
    if not base:
        raise SystemExit("no feed items found to build a corpus from")
    title_words = sorted({w for item in base for w in _TITLE_WORD_RE.findall(item.title)})
    sentences = [s for item in base for s in re.split(r"(?<=[.!?])\s+", item.summary) if s]
    feeds = list(FEED_TAGS)
    items: list[Item] = []
    for i in range(count):
        source = base[i % len(base)]
        seq = i + 1
        words = source.title.split()
        if words:
            words[rng.randrange(len(words))] = rng.choice(title_words)
        summary = source.summary
        while sentences and len(summary) < 360:
            summary = f"{summary} {rng.choice(sentences)}".strip()[:1000]
        published = NOW - timedelta(seconds=rng.randrange(180 * 24 * 3600))
        extras: dict[str, Any] = {}
        if i > 100 and rng.random() < 0.02:
            extras["duplicate_of"] = seq - rng.randrange(1, 100)
        items.append(
            replace(
                source,
                id=f"{source.id}#{i}",
                feed_id=feeds[(i * 7 + i // len(base)) % len(feeds)],
                title=" ".join(words),
                summary=summary,
                link=f"{source.link or 'https://example.org/item'}?n={i}",
                guid=f"{source.guid or source.id}#{i}",
                link_title_key=f"{source.link_title_key or source.id}#{i}",
                former_keys=(),
                published=published,
                first_seen=published + timedelta(minutes=5),
                seq=seq,
                extras=extras,
            )
        )
    return items


def stored_size(items: Sequence[Item]) -> float:
    """Mean size in bytes of the items as JSON, roughly as the store writes them."""
    sample = items[: min(len(items), 2000)]
    total = 0
    for item in sample:
        doc = {
            "seq": item.seq,
            "id": item.id,
            "feed_id": item.feed_id,
            "title": item.title,
            "summary": item.summary,
            "link": item.link,
            "published": item.published.isoformat() if item.published else None,
            "authors": list(item.authors),
            "tags": list(item.tags),
            "guid": item.guid,
            "link_title_key": item.link_title_key,
            "first_seen": item.first_seen.isoformat() if item.first_seen else None,
            "backlog": item.backlog,
            "dedup_keys": list(item.dedup_keys),
            "extras": dict(item.extras),
        }
        total += len(orjson.dumps(doc))
    return total / max(1, len(sample))


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux), or 0 where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def build_index(items: Sequence[Item], *, chunk: int = 2000) -> SearchIndex:
    """Index `items` as the bot does: no items kept, loaded by seq when needed."""
    by_seq = {item.seq: item for item in items}

    def load(seqs: Iterable[int]) -> list[Item]:
        return [by_seq[seq] for seq in seqs if seq in by_seq]

    index = SearchIndex(feed_tags=FEED_TAGS, load_items=load)
    for start in range(0, len(items), chunk):
        index.add_many(items[start : start + chunk])
    return index


def _load_average() -> float | None:
    # Other processes on a shared machine slow wall-clock times; say how busy it was.
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[position]


def run(quick: bool, *, with_store: bool = False) -> dict[str, Any]:
    """Run the benchmark (10,000 items if `quick`, else 100,000); return its numbers.

    `with_store` adds `whole_bot`: the same corpus in a real `TinyStore` on disk,
    opened in a fresh process that then builds the index from it the way the
    bot starts (see `measure_store_start`).
    """
    count = QUICK_ITEMS if quick else FULL_ITEMS
    started = time.perf_counter()
    items = generate_corpus(count)
    corpus_seconds = time.perf_counter() - started
    gc.collect()
    rss_before = rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    index = build_index(items)
    build_seconds = time.perf_counter() - started
    build_cpu_seconds = time.process_time() - cpu_started
    gc.collect()
    rss_after = rss_mb()
    latency, slowest = _time_queries(index, 1 if quick else RUNS_PER_QUERY)
    stats = index.stats()
    return {
        "items": count,
        "item_json_bytes": round(stored_size(items)),
        "corpus_seconds": round(corpus_seconds, 2),
        "build_seconds": round(build_seconds, 2),
        "build_us_per_item": round(build_seconds / count * 1e6, 1),
        "build_cpu_seconds": round(build_cpu_seconds, 2),
        "index_mb": round(rss_after - rss_before, 1),
        "process_rss_mb": round(rss_after, 1),
        "terms": stats["terms"],
        "postings": stats["postings"],
        **latency,
        "load_average": _load_average(),
        "slowest": slowest,
        **({"whole_bot": measure_store_start(count)} if with_store else {}),
    }


def _time_queries(index: SearchIndex, runs: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every query of QUERIES `runs` times: the latency numbers, and the five slowest queries."""
    latencies: list[float] = []
    cpu_latencies: list[float] = []
    per_query: list[dict[str, Any]] = []
    for text in QUERIES:
        times = []
        for _ in range(runs):
            began, cpu_began = time.perf_counter(), time.thread_time()
            results = index.search_text(text, now=NOW, limit=10)
            times.append((time.perf_counter() - began) * 1000)
            cpu_latencies.append((time.thread_time() - cpu_began) * 1000)
        latencies.extend(times)
        per_query.append(
            {
                "query": text,
                "ms": round(max(times), 2),
                "total": results.total,
                "exact": results.total_exact,
                "hits": len(results.hits),
            }
        )
    numbers = {
        "queries": len(QUERIES),
        "samples": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "cpu_p50_ms": round(statistics.median(cpu_latencies), 2),
        "cpu_p95_ms": round(percentile(cpu_latencies, 0.95), 2),
        "cpu_p99_ms": round(percentile(cpu_latencies, 0.99), 2),
    }
    return numbers, sorted(per_query, key=lambda q: -q["ms"])[:5]


def measure_store_start(count: int) -> dict[str, Any]:
    """Write `count` corpus items to a TinyStore in a temporary directory, then, in a
    fresh process: open it, build the index in the background from it with
    `load_items=store.items.by_seq` (as the bot does), and search."""
    with tempfile.TemporaryDirectory(prefix="briefbot-bench-") as directory:
        for phase in ("write", "start"):
            done = subprocess.run(
                [
                    *(sys.executable, "-m", "bench.search_bench"),
                    *("--store-phase", phase, directory, "--items", str(count)),
                ],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
        numbers: dict[str, Any] = json.loads(done.stdout)
        return numbers


def run_store_phase(phase: str, directory: Path, count: int) -> dict[str, Any]:
    """One side of `measure_store_start`, in its own process."""
    if phase == "write":
        items = [replace(item, seq=0) for item in generate_corpus(count)]
        with TinyStore.open(directory, retention_days=3650) as store, store.transaction() as tx:
            for start in range(0, len(items), 5000):
                tx.items.add(items[start : start + 5000], now=NOW)
        return {}
    baseline = rss_mb()
    started = time.perf_counter()
    store = TinyStore.open(directory, retention_days=3650)
    open_seconds = time.perf_counter() - started
    store_rss = rss_mb()
    try:
        index = SearchIndex(feed_tags=FEED_TAGS, load_items=store.items.by_seq)
        started = time.perf_counter()
        index.build_in_background(store.items.after).join()
        build_seconds = time.perf_counter() - started
        gc.collect()
        latencies = []
        for text in QUERIES:
            began = time.perf_counter()
            index.search_text(text, now=NOW, limit=10)
            latencies.append((time.perf_counter() - began) * 1000)
        return {
            "items": store.items.count(),
            "python_and_imports_rss_mb": round(baseline, 1),
            "store_open_seconds": round(open_seconds, 2),
            "store_rss_mb": round(store_rss - baseline, 1),
            "index_build_seconds": round(build_seconds, 1),
            "index_rss_mb": round(rss_mb() - store_rss, 1),
            "total_rss_mb": round(rss_mb(), 1),
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2),
        }
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ITEMS:,} items, one run")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument(
        "--with-store", action="store_true", help="also time a real TinyStore's start (slow)"
    )
    parser.add_argument("--store-phase", nargs=2, metavar=("PHASE", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=FULL_ITEMS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.store_phase:
        phase, directory = args.store_phase
        print(json.dumps(run_store_phase(phase, Path(directory), args.items)))
        return 0
    numbers = run(args.quick, with_store=args.with_store)
    if args.json:
        print(json.dumps(numbers, indent=2, ensure_ascii=False))
        return 0
    print(
        f"{numbers['items']:,} items (~{numbers['item_json_bytes']} B stored each),"
        f" {numbers['terms']:,} terms, {numbers['postings']:,} postings"
    )
    print(
        f"build {numbers['build_seconds']} s ({numbers['build_us_per_item']} us/item,"
        f" {numbers['build_cpu_seconds']} s CPU), index {numbers['index_mb']} MB,"
        f" process RSS {numbers['process_rss_mb']} MB"
    )
    print(
        f"{numbers['samples']} searches: p50 {numbers['p50_ms']} ms, p95 {numbers['p95_ms']} ms,"
        f" p99 {numbers['p99_ms']} ms, max {numbers['max_ms']} ms"
        f" (CPU p50 {numbers['cpu_p50_ms']}, p95 {numbers['cpu_p95_ms']},"
        f" p99 {numbers['cpu_p99_ms']} ms; load average {numbers['load_average']})"
    )
    for slow in numbers["slowest"]:
        print(f"  {slow['ms']:8.2f} ms  total {slow['total']:>6}  {slow['query']}")
    if "whole_bot" in numbers:
        print("with a real TinyStore:", json.dumps(numbers["whole_bot"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
