"""Charts drawn as PNG images: stacked bars from a `bot.brief.charts.ChartData`.

The only module of the bot that imports matplotlib (an import-linter contract
in pyproject.toml says so), and only inside `draw_chart`: importing matplotlib
costs about half a second, which `briefbot --help`, `/brief help` and every
other command must not pay.

Headless without touching anybody's global state: a `Figure` is drawn on its
own Agg canvas (`FigureCanvasAgg`), never through `pyplot`, so no backend is
selected with `matplotlib.use`, no figure is registered in pyplot's list
(nothing leaks between calls or threads) and `rcParams` are left alone;
every style is given here explicitly.

`draw_chart` returns the PNG with the data it drew, so that a test (or a
caption) can check the drawn totals against counts made from the store,
rather than from pixels. The PNG carries no timestamp (`metadata`), so the
same data gives the same bytes.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.brief.charts import OTHER, ChartData

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CHART_DPI", "CHART_SIZE", "PALETTE", "DrawnChart", "draw_chart"]

#: Inches (width, height) at CHART_DPI: 1200 x 640 pixels, readable in a Slack preview.
CHART_SIZE = (10.0, 5.333)
CHART_DPI = 120
#: One colour per series (colour-blind safe, Okabe-Ito), then grey for "Other".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
OTHER_COLOUR = "#999999"
_MAX_TICK_LABELS = 16
_TITLE_WIDTH = 90


@dataclass(frozen=True, slots=True)
class DrawnChart:
    """A chart as a PNG, with the data drawn and the image's size in pixels."""

    png: bytes
    data: ChartData
    width: int
    height: int

    @property
    def filename(self) -> str:
        return f"{self.data.kind}-{self.data.period.text}.png"


def draw_chart(data: ChartData) -> DrawnChart:
    """Stacked bars, one per bucket, one colour per series, each bar's total above it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=CHART_SIZE, dpi=CHART_DPI, layout="constrained")
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(data.buckets)))
    bottoms = [0] * len(positions)
    for index, series in enumerate(data.series):
        colour = OTHER_COLOUR if series.name == OTHER else PALETTE[index % len(PALETTE)]
        axes.bar(
            positions,
            series.counts,
            bottom=bottoms,
            width=0.8,
            color=colour,
            label=f"{series.name} ({series.total})",
        )
        bottoms = [b + c for b, c in zip(bottoms, series.counts, strict=True)]
    for position, total in zip(positions, bottoms, strict=True):
        if total:
            axes.annotate(
                str(total),
                (position, total),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    _label_axes(axes, data, positions, max(bottoms, default=0))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(data.series) > 1:
        axes.legend(loc="upper left", fontsize=8, frameon=False, ncols=2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    width, height = canvas.get_width_height()
    return DrawnChart(png=buffer.getvalue(), data=data, width=width, height=height)


def _label_axes(axes: Axes, data: ChartData, positions: list[int], top: int) -> None:
    step = max(1, -(-len(positions) // _MAX_TICK_LABELS))
    shown = positions[::step]
    axes.set_xticks(shown, [data.buckets[p].label for p in shown], rotation=45, ha="right")
    axes.set_xlim(-0.6, len(positions) - 0.4)
    # Room above the tallest bar for its total and the legend.
    axes.set_ylim(0, max(1, top) * 1.25)
    plural = data.unit[:-1] + "ies" if data.unit.endswith("y") else data.unit + "s"
    axes.set_ylabel(f"{plural} per {data.per}")
    axes.set_title("\n".join(textwrap.wrap(data.title, _TITLE_WIDTH)), fontsize=11)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
