"""`/brief chart` and `/brief month`: the Entity List and topics drawn, and a month summed up.

`/brief chart entity-list [90d|12m]` and `/brief chart <topic> [period]`
draw the chart (bot/app/reports.py) and share it in the channel as an image
(the Poster's `upload_file`: Slack's files_upload_v2); the caller gets a
private line saying it was posted. The chart is public because a picture is
for the team; like a search it changes nothing, so any member may ask. A
period with nothing to draw is answered in words, never with an empty chart;
the console (no Poster) points to `briefbot chart --out FILE.png`.

`/brief month [YYYY-MM]` answers privately with the monthly briefing of that
month (default: the last full month): counts by topic and type, Entity List
additions by destination against the month before, the next month's
deadlines and the ten most important items (bot/brief/monthly.py).
"""

from __future__ import annotations

from bot.app.commands.session import CommandError, Session
from bot.app.commands.words import Word
from bot.app.reports import ReportError, chart_data, empty_chart_text, month_view, share_chart
from bot.models import SlackMessage

__all__ = ["chart", "month"]


def chart(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief chart entity-list|<topic> [period]`: the chart, shared in this channel."""
    if not args or len(args) > 2:
        raise CommandError("say which chart: entity-list or a topic id, then a period", "chart")
    try:
        data = chart_data(
            session.runtime,
            args[0].text,
            args[1].text if len(args) > 1 else None,
            feeds=session.feeds,
        )
    except ReportError as err:
        raise CommandError(str(err), "chart") from None
    if data.is_empty:
        return session.notice(empty_chart_text(data))
    if session.poster is None:
        return session.notice(
            f"{data.title}. Posting a chart needs Slack; here, write it to a file with "
            f"briefbot chart {data.kind} --period {data.period.text} --out chart.png"
        )
    _drawn, result = share_chart(session.poster, session.request.channel_id, data)
    if not result.ok:
        return session.notice(f"The chart was not posted: {result.error}")
    return session.notice(f"Posted the chart in this channel: {data.title}.")


def month(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief month [YYYY-MM]`: the monthly briefing, only for the caller."""
    if len(args) > 1:
        raise CommandError("give one month, such as 2024-01", "month")
    try:
        view = month_view(session.runtime, args[0].text if args else None, feeds=session.feeds)
    except ReportError as err:
        raise CommandError(str(err), "month") from None
    if view.is_empty:
        return session.notice(
            f"Nothing is stored for {view.month.label}: no item, no Entity List rule, "
            f"no deadline in {view.month.next.label}."
        )
    return session.runtime.renderer.render_month(view)
