"""What `answer.j2` gets for a question's answer (`bot.brief.ask.Answer`).

Labels come from feed text (feed names, destinations as BIS wrote them) and
the optional summary from a language model: both are cleaned and shortened
here like every feed string, and printed escaped by the template
environment. References are numbers into `cited`, which the template lists
with links; `refs` is the "[1][2] +3 more" a line ends with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.brief.ask import Answer, Line
from bot.render.views import NAME_CHARS, ItemView, TemplateViews, shorten

__all__ = ["SUMMARY_CHARS", "LineView", "answer_context"]

# The language model's summary is cut to this (characters).
SUMMARY_CHARS = 1_200
UNDERSTOOD_CHARS = 600


@dataclass(frozen=True, slots=True)
class LineView:
    label: str
    count: int
    refs: str  # "[1][2] +3 more"


def _line(line: Line) -> LineView:
    refs = "".join(f"[{n}]" for n in line.refs)
    if line.more:
        refs += f" +{line.more} more"
    return LineView(shorten(line.label, NAME_CHARS), line.count, refs)


def _lines(lines: Sequence[Line]) -> list[LineView]:
    return [_line(line) for line in lines]


def answer_context(views: TemplateViews, answer: Answer) -> dict[str, Any]:
    """The variables of answer.j2 (documented at its top)."""
    cited: list[ItemView] = [views.item(item) for item in answer.cited]
    entity = _lines(answer.entity_list)
    return {
        "understood": shorten(answer.question.understood, UNDERSTOOD_CHARS),
        "total": _line(answer.total),
        "previous": _line(answer.previous),
        "change": answer.change,
        "by_topic": _lines(answer.by_topic),
        "by_feed": _lines(answer.by_feed),
        "entity_rules": entity[0] if entity else None,
        "destinations": entity[1:],
        "summary": shorten(answer.summary, SUMMARY_CHARS) if answer.summary else "",
        "cited": cited,
        "notes": [shorten(note, UNDERSTOOD_CHARS) for note in answer.notes],
    }
