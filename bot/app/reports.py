"""Charts and monthly briefings from the store: what `/brief chart`, `/brief month`,
`briefbot chart` and the monthly digest share.

`chart_data` turns "entity-list" or a topic id and a period ("90d", "12m")
into a `ChartData` over every stored item; `month_view` does the same for
a monthly briefing; `share_chart` draws a chart and shares it in a channel
through the Poster. The rules of what is counted are in bot/brief/charts.py
and bot/brief/monthly.py; drawing is bot/render/charts.py (matplotlib is
imported there, on the first chart drawn).

A wrong kind or period is a `ReportError` whose message says what would
work (the topics there are, the periods accepted): the commands show it as
a mistake of the user.
"""

from __future__ import annotations

from bot.app.runtime import Runtime
from bot.brief.charts import (
    DEFAULT_PERIOD,
    ENTITY_LIST_CHART,
    ChartData,
    entity_list_chart,
    parse_period,
    topic_chart,
)
from bot.brief.monthly import Month, MonthlyView, build_month
from bot.deliver.ports import DeliveryResult, FileUpload, Poster
from bot.find.query.syntax import QueryError
from bot.render.charts import DrawnChart, draw_chart

__all__ = [
    "ReportError",
    "chart_data",
    "chart_kinds",
    "empty_chart_text",
    "month_view",
    "share_chart",
]


class ReportError(ValueError):
    """The chart or month asked for cannot be made; the message says why and what would work."""


def chart_kinds(runtime: Runtime) -> list[str]:
    """What `chart` takes: the Entity List, or one of the topics (a topic called
    entity-list is the Entity List chart: its name is taken)."""
    return list(dict.fromkeys([ENTITY_LIST_CHART, *(t.id for t in runtime.config.topics)]))


def chart_data(runtime: Runtime, kind: str, period_text: str | None = None) -> ChartData:
    """The chart of `kind` ("entity-list" or a topic id) over `period_text` (default 90d)."""
    now = runtime.clock()
    try:
        period = parse_period(period_text or DEFAULT_PERIOD, now)
    except ValueError as err:
        raise ReportError(str(err)) from None
    items = runtime.store.items.after(0)
    wanted = kind.strip().lower()
    if wanted == ENTITY_LIST_CHART:
        return entity_list_chart(items, period)
    topic = next((t for t in runtime.config.topics if t.id.lower() == wanted), None)
    if topic is None:
        raise ReportError(f"no chart {kind!r}; the charts are {', '.join(chart_kinds(runtime))}")
    try:
        return topic_chart(items, topic, period, now=now, feed_tags=runtime.feed_tags())
    except QueryError as err:
        raise ReportError(f"topic {topic.id}'s query does not parse: {err}") from None


def empty_chart_text(data: ChartData) -> str:
    """What a reply says instead of an empty chart."""
    if data.kind == ENTITY_LIST_CHART:
        return (
            f"No Entity List additions are stored for {data.period.label}: "
            "there is nothing to chart. Try a longer period, such as 12m."
        )
    return f"No stored item matches topic {data.kind} in {data.period.label}: nothing to chart."


def month_view(runtime: Runtime, month_text: str | None = None) -> MonthlyView:
    """The monthly briefing of `month_text` ("2024-01"), by default the last full month."""
    now = runtime.clock()
    if month_text:
        try:
            month = Month.parse(month_text)
        except ValueError as err:
            raise ReportError(str(err)) from None
        if month > Month.of(now):
            raise ReportError(f"{month.label} has not begun yet")
    else:
        month = Month.last_full(now)
    return build_month(
        runtime.store.items.after(0),
        month,
        runtime.config.topics,
        now=now,
        feed_tags=runtime.feed_tags(),
    )


def share_chart(
    poster: Poster, channel: str, data: ChartData, *, thread_ts: str | None = None
) -> tuple[DrawnChart, DeliveryResult]:
    """Draw `data` and share it in `channel` (in `thread_ts`'s thread), titled and described."""
    drawn = draw_chart(data)
    parts = ", ".join(f"{name} {count}" for name, count in data.by_series.items())
    upload = FileUpload(
        content=drawn.png,
        filename=drawn.filename,
        title=data.title,
        comment=data.title,
        alt_text=f"Stacked bar chart. {data.title}. {parts}."[:1000],
        thread_ts=thread_ts,
    )
    return drawn, poster.upload_file(channel, upload)
