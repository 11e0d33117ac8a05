"""`briefbot chart KIND --out FILE.png`, run as a user runs it: `python -m bot` in a subprocess.

The data directory is built from recorded Entity List rules and Federal
Register documents by real polls (tests/support/recorded.py), closed, then
read by the command; what the file must hold is computed from the fixtures.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.cli.shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.app.runtime import Runtime
from bot.config.schema import load_config
from tests.app.test_cli import clean_env, run_cli
from tests.render.test_charts import png_size
from tests.support.feedserver import FeedServer
from tests.support.recorded import (
    ENTITY_DOCS,
    added_by_destination,
    recorded_config_text,
    store_recorded,
)

NOW = datetime.now(UTC)
# One rule every five days from ten days back: all within 12 months, none within a week.
DATES = [NOW - timedelta(days=10 + 5 * i) for i in range(len(ENTITY_DOCS))]


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("cli-charts")
    server = FeedServer().start()
    try:
        path = base / "feeds.yaml"
        path.write_text(recorded_config_text(server, base / "data"), encoding="utf-8")
        with Runtime.open(load_config(str(path))) as runtime:
            store_recorded(runtime, server, DATES)
    finally:
        server.stop()
    return path


def test_the_chart_is_written_to_the_file(config_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "entity-list.png"
    started = datetime.now(UTC)
    result = run_cli(
        "--config",
        str(config_path),
        "chart",
        "entity-list",
        "--period",
        "12m",
        "--out",
        str(out),
        env=clean_env(),
    )

    assert result.returncode == EXIT_OK, result.stderr
    want: Counter[str] = Counter()
    for doc in ENTITY_DOCS:
        want.update(added_by_destination(doc["document_number"]))
    rules = sum(1 for doc in ENTITY_DOCS if added_by_destination(doc["document_number"]))
    width, height = png_size(out.read_bytes())
    assert 1000 <= width <= 1600 and 500 <= height <= 900
    assert f"Wrote {out} ({width}x{height} PNG" in " ".join(result.stdout.split())
    # The period ends on the command's own day (a run across midnight: either one).
    days = {started.day, datetime.now(UTC).day}
    assert any(f"12 months to {day} " in result.stdout for day in days), result.stdout
    assert f"{sum(want.values())} entries in {rules} rules" in " ".join(result.stdout.split())
    assert [p.name for p in tmp_path.iterdir()] == ["entity-list.png"], "no temporary file left"


def test_a_topic_chart_and_the_mistakes(config_path: Path, tmp_path: Path) -> None:
    topic = tmp_path / "export.png"
    ok = run_cli("--config", str(config_path), "chart", "export", "--out", str(topic))
    assert ok.returncode == EXIT_OK, ok.stderr
    assert png_size(topic.read_bytes())[0] >= 1000
    unknown = run_cli("--config", str(config_path), "chart", "tariffs", "--out", str(topic))
    assert unknown.returncode == EXIT_USAGE
    assert "no chart 'tariffs'; the charts are entity-list, export" in unknown.stderr
    not_png = run_cli("--config", str(config_path), "chart", "export", "--out", "x.jpg")
    assert not_png.returncode == EXIT_USAGE and "name the file *.png" in not_png.stderr
    empty = tmp_path / "empty.png"
    nothing = run_cli(
        "--config", str(config_path), "chart", "entity-list", "--period", "3d", "--out", str(empty)
    )
    assert nothing.returncode == EXIT_FAILED
    assert "nothing to chart" in nothing.stderr
    assert not empty.exists()
