"""Charts and monthly briefings from the store: what `/brief chart`, `/brief month`,
`briefbot chart` and the monthly digest share.

`chart_data` turns "entity-list" or a topic id and a period ("90d", "12m")
into a `ChartData` over every stored item; `month_view` does the same for
a monthly briefing; `share_chart` draws a chart and shares it in a channel
through the Poster; `send_monthly` posts a `monthly: true` digest's
briefing with its chart (bot/deliver/monthly.py keeps it to once a month).
The rules of what is counted are in bot/brief/charts.py and
bot/brief/monthly.py; drawing is bot/render/charts.py (matplotlib is
imported there, on the first chart drawn).

A wrong kind or period is a `ReportError` whose message says what would
work (the topics there are, the periods accepted): the commands show it as
a mistake of the user.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.app.runtime import Runtime
from bot.app.workspaces import digest_feeds, only_visible
from bot.brief.charts import (
    DEFAULT_PERIOD,
    ENTITY_LIST_CHART,
    ChartData,
    entity_list_chart,
    month_period,
    parse_period,
    topic_chart,
)
from bot.brief.monthly import Month, MonthlyView, build_month
from bot.config.model import DigestConfig
from bot.deliver.monthly import MonthlyOutcome, MonthlySender
from bot.deliver.ports import DeliveryResult, FileUpload, Poster
from bot.find.query.syntax import QueryError
from bot.models import SlackMessage
from bot.render.charts import DrawnChart, draw_chart

__all__ = [
    "ReportError",
    "chart_data",
    "chart_kinds",
    "chart_upload",
    "empty_chart_text",
    "month_view",
    "send_monthly",
    "share_chart",
]


class ReportError(ValueError):
    """The chart or month asked for cannot be made; the message says why and what would work."""


def chart_kinds(runtime: Runtime) -> list[str]:
    """What `chart` takes: the Entity List, or one of the topics (a topic called
    entity-list is the Entity List chart: its name is taken)."""
    return list(dict.fromkeys([ENTITY_LIST_CHART, *(t.id for t in runtime.config.topics)]))


def chart_data(
    runtime: Runtime,
    kind: str,
    period_text: str | None = None,
    *,
    feeds: Collection[str] | None = None,
) -> ChartData:
    """The chart of `kind` ("entity-list" or a topic id) over `period_text` (default 90d),
    from the items of `feeds` (None: every feed; many workspaces: the asker's)."""
    now = runtime.clock()
    try:
        period = parse_period(period_text or DEFAULT_PERIOD, now)
    except ValueError as err:
        raise ReportError(str(err)) from None
    items = only_visible(runtime.store.items.after(0), feeds)
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


def month_view(
    runtime: Runtime, month_text: str | None = None, *, feeds: Collection[str] | None = None
) -> MonthlyView:
    """The monthly briefing of `month_text` ("2024-01"), by default the last full month, of
    the items of `feeds` (None: every feed)."""
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
        only_visible(runtime.store.items.after(0), feeds),
        month,
        runtime.config.topics,
        now=now,
        feed_tags=runtime.feed_tags(),
    )


def share_chart(poster: Poster, channel: str, data: ChartData) -> tuple[DrawnChart, DeliveryResult]:
    """Draw `data` and share it in `channel`, titled and described."""
    drawn = draw_chart(data)
    return drawn, poster.upload_file(channel, chart_upload(drawn))


def chart_upload(drawn: DrawnChart) -> FileUpload:
    """A drawn chart as a file to share: its title as title and comment, its series as alt text."""
    data = drawn.data
    parts = ", ".join(f"{name} {count}" for name, count in data.by_series.items())
    return FileUpload(
        content=drawn.png,
        filename=drawn.filename,
        title=data.title,
        comment=data.title,
        alt_text=f"Stacked bar chart. {data.title}. {parts}."[:1000],
    )


def send_monthly(runtime: Runtime, digest: DigestConfig, poster: Poster) -> MonthlyOutcome:
    """The monthly briefing of a `monthly: true` digest, once a month, its chart in the thread."""

    def compose(month: Month) -> tuple[list[SlackMessage], FileUpload | None]:
        feeds = digest_feeds(runtime.config, runtime.store.overrides, digest)
        items = list(only_visible(runtime.store.items.after(0), feeds))
        view = build_month(
            items, month, runtime.config.topics, now=runtime.clock(), feed_tags=runtime.feed_tags()
        )
        if view.is_empty:
            return [], None
        data = entity_list_chart(items, month_period(month.year, month.month))
        chart = None if data.is_empty else chart_upload(draw_chart(data))
        return runtime.renderer.render_month(view, chart=chart is not None), chart

    sender = MonthlySender(runtime.store, runtime.locks, clock=runtime.clock)
    return sender.send(digest, poster, compose)
