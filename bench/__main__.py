"""`python -m bench`: run the benchmarks of issue 6, print the table, optionally record it.

    python -m bench                    every scenario at full size (about 10-15 minutes)
    python -m bench --quick            tiny sizes, a smoke run (CI); targets not judged
    python -m bench --only poll --only store
    python -m bench --only postgres    PostgreSQL at 1,000,000 items (about 15 minutes on 2
                                       cores, most of it loading; --workdir keeps the database)
    python -m bench --json out.json    the numbers as JSON too
    python -m bench --write            the table into BENCHMARKS.md (between its markers)
    python -m bench --from-json a.json --from-json b.json --write
                                       re-use recorded results (later files win per scenario)

Each scenario runs in a worker process of its own (bench/worker.py); within a
scenario, the contenders it compares run side by side in that one process,
so their ratio holds on a busy machine. Data directories go to a temporary
work directory, removed at the end unless `--workdir` names one (then the
built stores are kept and re-used by later runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from bench.report import (
    ROOT,
    Machine,
    describe_machine,
    markdown_section,
    print_results,
    results_json,
    write_markdown,
)
from bench.results import ScenarioResult
from bench.worker import RESULT_PREFIX, SCENARIOS

QUICK_TIMEOUT = 300.0
FULL_TIMEOUT = 3600.0


def run_in_worker(
    name: str, *, quick: bool, workdir: Path, repeats: int | None, console: Console
) -> ScenarioResult:
    """Run one scenario in a child process; a crash or a timeout becomes a "failed" result."""
    command = [sys.executable, "-m", "bench.worker", name, "--workdir", str(workdir)]
    if quick:
        command.append("--quick")
    if repeats is not None:
        command += ["--repeats", str(repeats)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT if quick else FULL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ScenarioResult(
            name,
            name,
            quick,
            status="failed",
            reason="timed out",
            seconds=time.perf_counter() - started,
        )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result = ScenarioResult.from_json(json.loads(line[len(RESULT_PREFIX) :]))
            break
    else:
        result = ScenarioResult(
            name,
            name,
            quick,
            status="failed",
            reason=f"the worker exited with {completed.returncode} and no result",
            seconds=time.perf_counter() - started,
        )
    if result.status == "failed":
        console.print(f"[red]{name} failed:[/] {result.reason}")
        tail = completed.stderr.strip().splitlines()[-30:]
        if tail:
            console.print("\n".join(tail), markup=False, highlight=False)
    return result


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="briefbot benchmarks (issue 6).",
        epilog="scenarios: " + "; ".join(f"{k}: {v}" for k, v in SCENARIOS.items()),
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument(
        "--only",
        action="append",
        metavar="SCENARIO",
        default=None,
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--write", action="store_true", help="write the results table into BENCHMARKS.md"
    )
    parser.add_argument(
        "--markdown", type=Path, default=ROOT / "BENCHMARKS.md", help=argparse.SUPPRESS
    )
    parser.add_argument("--repeats", type=int, default=None, help="poll repeats (default 3)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep data directories here and re-use them"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        action="append",
        metavar="PATH",
        help="use results recorded with --json instead of running (repeatable)",
    )
    args = parser.parse_args(argv)
    names = []
    for entry in args.only or []:
        for name in entry.split(","):
            name = name.strip()
            if name not in SCENARIOS:
                parser.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
            names.append(name)
    args.names = [n for n in SCENARIOS if n in names] if names else list(SCENARIOS)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _load_results(paths: Sequence[Path]) -> tuple[list[ScenarioResult], bool, Machine | None]:
    """Results recorded with --json (later files win), and the machine of the last run."""
    by_name: dict[str, ScenarioResult] = {}
    quick = False
    machine = None
    for path in paths:
        data = json.loads(path.read_text())
        if isinstance(data.get("machine"), dict):
            machine = Machine(**data["machine"])
        for entry in data["results"]:
            result = ScenarioResult.from_json(entry)
            by_name[result.name] = result
            quick = quick or result.quick
    order = list(SCENARIOS)
    ordered = sorted(by_name.values(), key=lambda r: order.index(r.name) if r.name in order else 99)
    return ordered, quick, machine


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    # Wide enough for the table in a CI log, where there is no terminal to measure.
    console = Console(width=None if sys.stdout.isatty() else 160)
    machine = describe_machine()
    if args.from_json:
        results, quick, recorded = _load_results(args.from_json)
        machine = recorded or machine  # the date and commit of the run, not of now
    else:
        quick = args.quick
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="briefbot-bench-"))
        workdir.mkdir(parents=True, exist_ok=True)
        results = []
        try:
            for name in args.names:
                console.print(f"[bold]{name}[/]: {SCENARIOS[name]} ...", highlight=False)
                result = run_in_worker(
                    name, quick=quick, workdir=workdir, repeats=args.repeats, console=console
                )
                console.print(f"  {result.status} in {result.seconds:.1f} s", highlight=False)
                results.append(result)
        finally:
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
    print_results(results, machine, console)
    if args.json:
        args.json.write_text(json.dumps(results_json(results, machine), indent=2, default=str))
        console.print(f"results written to {args.json}")
    if args.write:
        write_markdown(args.markdown, markdown_section(results, machine, quick=quick))
        console.print(f"results table written to {args.markdown}")
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
