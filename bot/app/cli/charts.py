"""`briefbot chart KIND --out FILE.png [--period 90d|12m]`: a chart written to a file.

Only reads: the data directory is opened read-only (no lock), so it works
while `briefbot run` holds the data, like `search` (see bot/app/cli/inspect.py).
KIND is `entity-list` or a topic id; the chart is what `/brief chart` posts
(bot/app/reports.py). With nothing to draw it says so, writes nothing and
exits 1. The file is written whole or not at all (a temporary file renamed).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bot.app.cli.shared import EXIT_FAILED, EXIT_OK, UsageError, load_reading_config
from bot.app.reports import ReportError, chart_data, empty_chart_text
from bot.app.runtime import Runtime
from bot.app.terminal import make_console, print_error, print_text
from bot.render.charts import draw_chart

__all__ = ["cmd_chart"]


def cmd_chart(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise UsageError(f"--out {out}: charts are PNG images; name the file *.png")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: no directory {out.parent}")
    config = load_reading_config(args)
    with Runtime.open(config, read_only=True) as runtime:
        try:
            data = chart_data(runtime, args.kind, args.period)
        except ReportError as err:
            raise UsageError(str(err)) from None
    if data.is_empty:
        print_error(empty_chart_text(data))
        return EXIT_FAILED
    drawn = draw_chart(data)
    _write_whole(out, drawn.png)
    console = make_console()
    size = f"{drawn.width}x{drawn.height} PNG, {len(drawn.png) // 1024 + 1} KB"
    print_text(console, f"Wrote {out} ({size}): {data.title}")
    return EXIT_OK


def _write_whole(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
