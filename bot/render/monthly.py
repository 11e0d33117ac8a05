"""The variables of `month.j2` from a `bot.brief.monthly.MonthlyView`.

Counts are shown as they are; changes against the previous month are signed
("+12", "-3", "no change"); deadline days are written out ("Thu 15 Feb"),
since a date has no time for Slack's date token to localise. Items are the
same item views digests use (bot/render/views.py), so each line links to its
source.
"""

from __future__ import annotations

from typing import Any

from bot.brief.monthly import MonthlyView
from bot.daynames import WEEKDAYS_SHORT
from bot.ingest.fedreg.facts import short_date
from bot.render.views import TemplateViews

__all__ = ["month_context"]


def month_context(view: MonthlyView, views: TemplateViews, *, chart: bool) -> dict[str, Any]:
    """What month.j2 gets (its header comment lists each variable)."""
    return {
        "month": view.month.label,
        "next_month": view.month.next.label,
        "total": view.total,
        "by_topic": [
            {"topic_id": t.topic_id, "title": t.title, "count": t.count} for t in view.by_topic
        ],
        "by_type": [{"kind": kind, "count": count} for kind, count in view.by_type],
        "entity": {
            "rules": view.entity_rules,
            "total": view.entity_total,
            "previous": view.entity_previous,
            "change": signed(view.entity_total - view.entity_previous),
            "destinations": [
                {
                    "name": d.name,
                    "count": d.count,
                    "previous": d.previous,
                    "change": signed(d.change),
                }
                for d in view.destinations
            ],
        },
        "deadlines": [
            {
                "day": f"{WEEKDAYS_SHORT[d.on.weekday()]} {short_date(d.on)}",
                "what": d.label,
                "citation": d.facts.citation,
                "item": views.item(d.item),
            }
            for d in view.deadlines
        ],
        "top": [views.item(item) for item in view.top_items],
        "chart": chart,
    }


def signed(change: int) -> str:
    """ "+12", "-3" or "no change"."""
    return f"{change:+d}" if change else "no change"
