"""Charts drawn as PNG: what the image is (type, size, dimensions) and what it drew.

The totals are checked from the data `draw_chart` returns with the image,
against counts made from the abstracts, not from pixels. Also: matplotlib
stays out of start-up (`briefbot --help` and the /brief handlers do not
import it) and drawing leaves matplotlib's global state alone.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from datetime import timedelta

from bot.brief.charts import entity_list_chart, parse_period
from bot.render.charts import draw_chart
from tests.brief.test_charts import NOW, expected, rule_items

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk, after checking its signature and CRC."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    crc = struct.unpack(">I", data[29:33])[0]
    assert zlib.crc32(data[12:29]) == crc, "IHDR checksum"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_chart_is_a_png_of_sane_size_with_the_stored_totals() -> None:
    items = rule_items()
    data = entity_list_chart(items, parse_period("90d", NOW))

    drawn = draw_chart(data)

    assert png_size(drawn.png) == (drawn.width, drawn.height)
    assert 1000 <= drawn.width <= 1600 and 500 <= drawn.height <= 900
    assert 10_000 < len(drawn.png) < 1_000_000
    assert drawn.png.endswith(b"IEND\xaeB`\x82")
    want = expected(items, data.buckets[0].start)
    assert drawn.data.total == sum(want.values())
    assert sum(drawn.data.bucket_totals) == drawn.data.total
    assert drawn.filename == "entity-list-90d.png"


def test_the_same_data_draws_the_same_bytes() -> None:
    data = entity_list_chart(rule_items(), parse_period("12m", NOW))
    assert draw_chart(data).png == draw_chart(data).png


def test_an_empty_period_still_draws_without_error() -> None:
    data = entity_list_chart(rule_items(step=timedelta(days=400)), parse_period("4w", NOW))
    assert data.is_empty
    drawn = draw_chart(data)
    assert png_size(drawn.png) == (drawn.width, drawn.height)


def test_drawing_leaves_pyplot_and_the_backend_alone() -> None:
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.get_backend() if 'matplotlib.pyplot' in sys.modules else None\n"
        "from datetime import datetime, UTC\n"
        "from bot.brief.charts import entity_list_chart, parse_period\n"
        "from bot.render.charts import draw_chart\n"
        "draw_chart(entity_list_chart([], parse_period('90d', datetime.now(UTC))))\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out[:2] == ["no", "pyplot"]


def test_start_up_does_not_import_matplotlib() -> None:
    code = (
        "import sys\n"
        "from bot.app.cli.main import build_parser\n"
        "from bot.app.commands.dispatch import handle_command\n"
        "build_parser().format_help()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'numpy')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
    help_run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert help_run.returncode == 0 and "chart" in help_run.stdout
    assert "matplotlib" not in help_run.stderr
