"""The machine a run was made on, the results table (terminal and Markdown), BENCHMARKS.md.

`write_markdown` replaces only what lies between the two marker comments of
BENCHMARKS.md, so the hand-written analysis around the table survives each
`python -m bench --write`.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.results import ScenarioResult

__all__ = [
    "END_MARKER",
    "START_MARKER",
    "Machine",
    "describe_machine",
    "markdown_section",
    "print_results",
    "write_markdown",
]

START_MARKER = "<!-- bench:results:start (written by `python -m bench --write`) -->"
END_MARKER = "<!-- bench:results:end -->"
ROOT = Path(__file__).resolve().parents[1]

_SKELETON = f"""# Benchmarks

`python -m bench` measures briefbot where users feel it (issue 6); `--quick`
is the smoke run CI does. The table below is written by `python -m bench --write`.

{START_MARKER}
{END_MARKER}
"""


@dataclass(frozen=True)
class Machine:
    platform: str
    cpu: str
    cores: int
    ram_gb: float
    python: str
    date: str
    commit: str

    def describe(self) -> str:
        return (
            f"{self.cpu}, {self.cores} cores, {self.ram_gb:.0f} GB RAM; {self.platform}; "
            f"Python {self.python}; {self.date}; commit {self.commit}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        # Read-only: were the benchmarked files those of the commit?
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if dirty else head


def describe_machine() -> Machine:
    return Machine(
        platform=platform.platform(),
        cpu=_cpu_model(),
        cores=os.cpu_count() or 0,
        ram_gb=_ram_gb(),
        python=platform.python_version(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
    )


def _rows(result: ScenarioResult) -> list[tuple[str, str, str, str]]:
    """(measure, result, target, verdict) rows of one scenario."""
    if result.status != "ok":
        return [("-", result.status, "", result.reason)]
    rows = []
    for metric in result.metrics:
        shown = metric.shown + (f" ({metric.note})" if metric.note else "")
        target = metric.target.text if metric.target else ""
        rows.append((metric.name, shown, target, metric.verdict(quick=result.quick)))
    return rows


def print_results(
    results: Sequence[ScenarioResult], machine: Machine, console: Console | None = None
) -> None:
    """The results table in the terminal, then each scenario's notes."""
    console = console or Console()
    table = Table(title=f"briefbot benchmarks — {machine.describe()}", show_lines=False)
    for column in ("scenario", "measure", "result", "target", "met?"):
        table.add_column(column, overflow="fold")
    for result in results:
        for n, (measure, shown, target, verdict) in enumerate(_rows(result)):
            style = {"met": "green", "missed": "bold red"}.get(verdict, "")
            table.add_row(
                result.name if n == 0 else "",
                measure,
                shown,
                target,
                f"[{style}]{verdict}[/]" if style else verdict,
            )
        table.add_section()
    console.print(table)
    for result in results:
        for note in result.notes:
            console.print(f"[dim]{result.name}:[/] {note}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_section(results: Sequence[ScenarioResult], machine: Machine, *, quick: bool) -> str:
    """The generated part of BENCHMARKS.md: machine, date, commit, then the table."""
    lines = [
        f"Machine: {machine.cpu}, {machine.cores} cores, {machine.ram_gb:.0f} GB RAM "
        f"({machine.platform}, Python {machine.python}).  ",
        f"Date: {machine.date}. Commit: {machine.commit}.  ",
        "Run: `python -m bench" + (" --quick`" if quick else "`") + ".",
        "",
    ]
    if quick:
        lines += ["**Quick run: tiny sizes, targets not judged.**", ""]
    lines += ["| scenario | measure | result | target | met? |", "| --- | --- | --- | --- | --- |"]
    for result in results:
        for n, (measure, shown, target, verdict) in enumerate(_rows(result)):
            mark = {"met": "**met**", "missed": "**missed**"}.get(verdict, verdict)
            lines.append(
                f"| {_cell(result.title) if n == 0 else ''} | {_cell(measure)} | {_cell(shown)} "
                f"| {_cell(target)} | {_cell(mark)} |"
            )
    notes = [(r.name, note) for r in results for note in r.notes]
    if notes:
        lines += ["", "Notes from the run:", ""]
        lines += [f"- {name}: {_cell(note)}" for name, note in notes]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, section: str) -> None:
    """Put `section` between the markers of `path` (created from a skeleton if missing)."""
    text = path.read_text() if path.exists() else _SKELETON
    if START_MARKER not in text or END_MARKER not in text:
        text = text.rstrip("\n") + f"\n\n{START_MARKER}\n{END_MARKER}\n"
    head, rest = text.split(START_MARKER, 1)
    _, tail = rest.split(END_MARKER, 1)
    path.write_text(f"{head}{START_MARKER}\n\n{section}\n{END_MARKER}{tail}")


def results_json(results: Sequence[ScenarioResult], machine: Machine) -> dict[str, Any]:
    return {"machine": machine.__dict__, "results": [r.to_json() for r in results]}
