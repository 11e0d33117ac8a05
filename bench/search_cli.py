"""`briefbot search` as whole processes over a benchmark's data directory (search_bench.py).

Each run is `python -m bot --config feeds.yaml search QUERY` with its output
to a pipe; wall time from outside, CPU time (user + system) from the child's
rusage. The data directory's search index must be level with its store
(search_bench's `build` phase records it so), as after `briefbot run` or an
earlier search: the whole-process target is about that case.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CLI_QUERIES", "measure_cli"]

CLI_QUERIES = (
    "export controls",
    '"national security"',
    "security NOT (china OR russia)",
    "feed:fr-bis since:7d",
    "告示",
)


def measure_cli(
    data: Path, runs: int, feed_tags: Mapping[str, Sequence[str]], queries: Sequence[str]
) -> dict[str, Any]:
    """`briefbot search` as a whole process over the data directory: wall and CPU time
    (user + system, from the child's rusage) of each run, output to a pipe."""
    config = data.parent / "feeds.yaml"
    feeds = "".join(
        f"  - id: {feed}\n    url: https://example.org/{feed}.xml\n    tags: [{', '.join(tags)}]\n"
        for feed, tags in feed_tags.items()
    )
    config.write_text(f"settings:\n  data_dir: {data}\n  retention_days: 3650\nfeeds:\n{feeds}")
    walls: list[float] = []
    cpus: list[float] = []
    for text in queries:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "bot", "--config", str(config), "search", text],
                capture_output=True,
                text=True,
                check=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            walls.append(time.perf_counter() - began)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if "result(s) for" not in done.stdout:
                raise RuntimeError(f"briefbot search {text!r} printed no results line")
    return {
        "runs": len(walls),
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_max_s": round(max(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "cpu_max_s": round(max(cpus), 3),
    }
