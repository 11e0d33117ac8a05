"""Benchmark of search at 100,000 items: the SQLite FTS5 index, the bot's one engine.

Run as `python -m bench.search_bench [--quick] [--json]`; the bench harness
calls `run(quick)` and gets a dict of the numbers.

The corpus is made from real feeds (/work/shared/feeds-corpus/policy, else
tests/fixtures/feeds) parsed with `bot.ingest.parse.parse_feed`, replicated to N
items with varied ids, dates (spread over 180 days, the default retention),
feeds, a swapped title word and a summary sentence borrowed from another real
item, so the vocabulary is real and items weigh about 1.3 KB as the store
writes them. 2% are marked copies of an earlier story (`duplicate_of`).

The index answers 50 queries of the kinds users type (topics, plain
questions, phrases, filters, NOT, wildcards, Japanese and Chinese), each
run 3 times, through `search_text` (parsing included), 10 hits each. The
corpus is stored in a real TinyStore, the index file built from it as the
bot does (a catch-up from the store, in a process of its own), then searched
from the file alone in a fresh process (as `briefbot search` does); memory is that
process's growth of resident set while searching.

`checked` is how the answers were checked: every hit shown (the top 10 of
each query) must satisfy the query as the query language reads it
(`Query.matches`, the reference the tests use); a hit that does not fails
the run. (The in-memory engine the totals were once compared with is gone:
issue 17.) `cli` times `briefbot search` as whole processes over the data
directory.
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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.search_cli import CLI_QUERIES, measure_cli
from bot.find.query.document import prepare_doc
from bot.find.search.results import SearchResults
from bot.ingest.parse import parse_feed
from bot.models import Item, replace
from bot.store.records.codec import item_to_doc
from bot.store.searchdb.index import FtsIndex
from bot.store.searchdb.schema import FILE_NAME
from bot.store.tinydb.peek import items_stamp
from bot.store.tinydb.store import TinyStore

CORPUS_DIR = Path("/work/shared/feeds-corpus/policy")
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "feeds"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FULL_ITEMS = 100_000
QUICK_ITEMS = 3_000
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
    # Japanese and Chinese (substrings: CJK text has no spaces between words).
    # The corpus has no 経済安全保障 (the empty answer); 安全保障 inside longer
    # words, 告示 and 中国 (two characters: below a trigram) in the Kanpo feed.
    "経済安全保障",
    "安全保障",
    "告示",
    "中国",
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
    """Mean size in bytes of the items as JSON, as the store writes them."""
    sample = items[: min(len(items), 2000)]
    return sum(len(orjson.dumps(item_to_doc(item))) for item in sample) / max(1, len(sample))


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux), or 0 where unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark (3,000 items if `quick`, else 100,000); return its numbers.

    The latency, build and memory numbers are the SQLite FTS5 index's
    (`bot.store.searchdb`, the bot's engine over a data directory); `checked` how many
    hits were checked against the query language; `cli` the whole `briefbot search`.
    """
    count = QUICK_ITEMS if quick else FULL_ITEMS
    runs = 1 if quick else RUNS_PER_QUERY
    started = time.perf_counter()
    items = generate_corpus(count)
    corpus_seconds = time.perf_counter() - started
    item_bytes = round(stored_size(items))
    del items
    gc.collect()
    with tempfile.TemporaryDirectory(prefix="briefbot-bench-") as directory:
        data = Path(directory) / "data"
        _phase("write", data, count, runs)
        built = _phase("build", data, count, runs)
        fts = _phase("search", data, count, runs)
        cli = measure_cli(data, runs, FEED_TAGS, CLI_QUERIES[:2] if quick else CLI_QUERIES)
    return {
        "items": count,
        "engine": "sqlite-fts5",
        "item_json_bytes": item_bytes,
        "corpus_seconds": round(corpus_seconds, 2),
        **built,
        **fts,
        "load_average": _load_average(),
        "cli": cli,
        "code_lines": code_lines(),
    }


def _time_queries(index: FtsIndex, runs: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every query of QUERIES `runs` times: the latency numbers (with how many hits were
    checked against the query language, `check_hits`, and the Japanese and Chinese
    queries' answers), and the five slowest queries."""
    latencies: list[float] = []
    cpu_latencies: list[float] = []
    per_query: list[dict[str, Any]] = []
    checked = 0
    for text in QUERIES:
        times = []
        for _ in range(runs):
            began, cpu_began = time.perf_counter(), time.thread_time()
            results = index.search_text(text, now=NOW, limit=10)
            times.append((time.perf_counter() - began) * 1000)
            cpu_latencies.append((time.thread_time() - cpu_began) * 1000)
        latencies.extend(times)
        checked += check_hits(index, results)
        per_query.append({"query": text, "ms": round(max(times), 2), "total": results.total})
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
        "checked": {"hits": checked, "against": "Query.matches"},
        # Japanese and Chinese: how many items each found, and its slowest run.
        "cjk": [q for q in per_query if not q["query"].isascii()],
    }
    return numbers, sorted(per_query, key=lambda q: -q["ms"])[:5]


def check_hits(index: FtsIndex, results: SearchResults) -> int:
    """How many hits were checked: each must match the query as the query language
    reads it (its feed's tags included); RuntimeError naming the first that does not."""
    for hit in results.hits:
        doc = prepare_doc(hit.item, feed_tags=index.tags_of_feed(hit.item.feed_id))
        if not results.query.matches(doc, now=NOW):
            raise RuntimeError(f"{results.query!r}: hit seq {hit.item.seq} does not match it")
    return len(results.hits)


def code_lines() -> dict[str, int]:
    """Non-blank lines of the engine's own modules (`bot.find.search`, shared, not counted)."""
    root = Path(__file__).resolve().parents[1] / "bot"
    own = {"sqlite-fts5": sorted((root / "store" / "searchdb").glob("*.py"))}
    return {
        engine: sum(1 for path in paths for line in path.read_text().splitlines() if line.strip())
        for engine, paths in own.items()
    }


def _phase(phase: str, data: Path, count: int, runs: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.search_bench", "--store-phase", phase, str(data)),
            *("--items", str(count), "--runs", str(runs)),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    numbers: dict[str, Any] = json.loads(done.stdout)
    return numbers


def run_store_phase(phase: str, data: Path, count: int, runs: int) -> dict[str, Any]:
    """One step, in a process of its own: `write` the corpus to a TinyStore; `build` the
    index file from it as the bot does (caught up from the store, recorded level with
    its files); `search` the file alone, as `briefbot search` does."""
    if phase == "write":
        items = [replace(item, seq=0) for item in generate_corpus(count)]
        with TinyStore.open(data, retention_days=3650) as store, store.transaction() as tx:
            for start in range(0, len(items), 5000):
                tx.items.add(items[start : start + 5000], now=NOW)
        return {}
    baseline = rss_mb()
    if phase == "build":
        stamp = items_stamp(data)
        with TinyStore.open(data, retention_days=3650, read_only=True) as store:
            started, cpu_started = time.perf_counter(), time.process_time()
            index = FtsIndex(data, feed_tags=FEED_TAGS, items=store.items)
            index.catch_up()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            index.record_level(stamp)
            index.close()
        return {
            "build_seconds": round(seconds, 2),
            "build_us_per_item": round(seconds / count * 1e6, 1),
            "build_cpu_seconds": round(cpu, 2),
            "file_mb": round((data / FILE_NAME).stat().st_size / 1e6, 1),
        }
    index = FtsIndex(data, feed_tags=FEED_TAGS)
    latency, slowest = _time_queries(index, runs)
    index.close()
    return {
        **latency,
        "index_mb": round(rss_mb() - baseline, 1),
        "process_rss_mb": round(rss_mb(), 1),
        "slowest": slowest,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ITEMS:,} items, one run")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    parser.add_argument("--store-phase", nargs=2, metavar=("PHASE", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=FULL_ITEMS, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=RUNS_PER_QUERY, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.store_phase:
        phase, directory = args.store_phase
        print(json.dumps(run_store_phase(phase, Path(directory), args.items, args.runs)))
        return 0
    numbers = run(args.quick)
    if args.json:
        print(json.dumps(numbers, indent=2, ensure_ascii=False))
        return 0
    cli = numbers["cli"]
    print(f"{numbers['items']:,} items (~{numbers['item_json_bytes']} B stored each)")
    print(
        f"sqlite-fts5: {numbers['samples']} searches: p50 {numbers['p50_ms']} ms,"
        f" p95 {numbers['p95_ms']} ms, max {numbers['max_ms']} ms (CPU p50"
        f" {numbers['cpu_p50_ms']}, p95 {numbers['cpu_p95_ms']} ms); build"
        f" {numbers['build_seconds']} s ({numbers['build_cpu_seconds']} s CPU);"
        f" memory {numbers['index_mb']} MB"
    )
    for slow in numbers["slowest"]:
        print(f"  {slow['ms']:8.2f} ms  total {slow['total']:>6}  {slow['query']}")
    print(
        f"file {numbers['file_mb']} MB; {numbers['checked']['hits']} hits checked against"
        f" the query language; code lines {numbers['code_lines']}"
    )
    print(
        f"briefbot search, whole process ({cli['runs']} runs): wall median"
        f" {cli['wall_median_s']} s, max {cli['wall_max_s']} s; CPU median"
        f" {cli['cpu_median_s']} s (load average {numbers['load_average']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
