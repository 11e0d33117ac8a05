"""Run one scenario in this process and print its result: `python -m bench.worker NAME`.

`python -m bench` starts one worker process per scenario, so that memory,
threads and garbage left by one scenario never weigh on the next. The result
is the last line of standard output, prefixed with `RESULT_PREFIX`; anything
else the scenario prints or logs is left for the harness to show on failure.

The search scenario is `bench/search_bench.py`'s `run(quick) -> dict`, looked
up when the worker runs: until that module exists, the scenario reports
"not run" with the import error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.results import ScenarioResult, Target

__all__ = ["RESULT_PREFIX", "SCENARIOS", "main", "run_scenario"]

RESULT_PREFIX = "BENCH-RESULT "

# name -> what it measures (in the order the harness runs them; `ack` reuses the
# 100,000-item data dir `store` built).
SCENARIOS: Mapping[str, str] = {
    "poll": "one poll cycle: briefbot vs a naive bot vs the floor",
    "peers": "`briefbot poll` as a process vs newsboat, rss2email and the floor (100/300 feeds)",
    "store": "ingest, dedup look-ups, cold start, memory, disk at 10k/100k/300k items",
    "search": "search latency at 100,000 items (bench/search_bench.py)",
    "match": "1,000 new items against 1,000 subscriptions",
    "ack": "/brief acks in HTTP mode at 100,000 items: bursts of 20, 200 at once, during a poll",
    "hostile": "/brief acks while two hostile feeds are polled: parse pool, in-process, idle",
    "render": "a digest from 1,000 candidate items",
    "parse": "parse_feed against feedparser: 100,000 entries, 10 MB of HTML, hostile documents",
    "ask": "questions in a DM at 100,000 items: acknowledgement and answer times",
    "postgres": "PostgreSQL at 1,000,000 items: ingest, dedup, search, claims (bench/pg_bench.py)",
}


def _search(quick: bool) -> ScenarioResult:
    result = ScenarioResult("search", "search at 100,000 items", quick)
    try:
        module = importlib.import_module("bench.search_bench")
        run: Callable[[bool], Mapping[str, Any]] = module.run
    except (ImportError, AttributeError) as exc:
        result.status, result.reason = "not run", f"bench.search_bench is not ready: {exc}"
        return result
    numbers = dict(run(quick))
    items = numbers.get("items")
    if isinstance(items, int):
        result.title = f"search at {items:,} items"
    known = [
        ("p50_ms", "query latency p50", "ms", None),
        ("p95_ms", "query latency p95", "ms", Target("<=", 20.0, "under 20 ms")),
        ("p99_ms", "query latency p99", "ms", None),
        ("max_ms", "query latency max", "ms", None),
        ("build_seconds", "index build", "s", None),
        ("index_mb", "index memory", "MB", None),
        ("file_mb", "index file on disk", "MB", None),
    ]
    for key, name, unit, target in known:
        value = numbers.get(key)
        if isinstance(value, int | float):
            result.add(name, float(value), unit, target=target)
    _search_notes(result, numbers)
    if "samples" in numbers and "queries" in numbers:
        result.notes.append(
            f"{numbers['samples']} searches of {numbers['queries']} queries (bench/search_bench.py)"
        )
    result.details = numbers
    return result


def _search_notes(result: ScenarioResult, numbers: Mapping[str, Any]) -> None:
    """The whole `briefbot search` process, and how the hits were checked."""
    cli = numbers.get("cli")
    if isinstance(cli, Mapping) and isinstance(cli.get("wall_median_s"), int | float):
        target = Target("<=", 0.5, "under 0.5 s")
        result.add(
            "briefbot search, whole process (median)", cli["wall_median_s"], "s", target=target
        )
    checked = numbers.get("checked")
    if isinstance(checked, Mapping):
        result.notes.append(
            f"{checked.get('hits')} hits checked against the query language"
            " (the in-memory engine it was compared with is gone)"
        )


def run_scenario(
    name: str, *, quick: bool, workdir: Path, repeats: int | None = None
) -> ScenarioResult:
    """Run scenario `name` here and now (imports happen only for the one asked for)."""
    if name == "poll":
        from bench import poll_bench

        return poll_bench.run(quick, repeats=repeats, workdir=workdir)
    if name == "peers":
        from bench import peers_bench

        return peers_bench.run(quick, repeats=repeats, workdir=workdir)
    if name == "store":
        from bench import store_bench

        return store_bench.run(quick, workdir=workdir)
    if name == "search":
        return _search(quick)
    if name == "match":
        from bench import match_bench

        return match_bench.run(quick)
    if name == "ack":
        from bench import ack_bench

        return ack_bench.run(quick, workdir=workdir)
    if name == "hostile":
        from bench import hostile_bench

        return hostile_bench.run(quick, workdir=workdir)
    if name == "ask":
        from bench import ask_bench

        return ask_bench.run(quick, workdir=workdir)
    if name == "postgres":
        from bench import pg_bench

        return pg_bench.run(quick, workdir=workdir)
    if name == "parse":
        from bench import parse_bench

        return parse_bench.run(quick)
    if name == "render":
        from bench import render_bench

        return render_bench.run(quick)
    raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("scenario", choices=list(SCENARIOS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        result = run_scenario(
            args.scenario, quick=args.quick, workdir=args.workdir, repeats=args.repeats
        )
    except Exception as exc:
        traceback.print_exc()
        result = ScenarioResult(
            args.scenario,
            args.scenario,
            args.quick,
            status="failed",
            reason=f"{type(exc).__name__}: {exc}",
        )
    result.seconds = time.perf_counter() - started
    print(RESULT_PREFIX + json.dumps(result.to_json(), default=str), flush=True)
    return 0 if result.status != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
