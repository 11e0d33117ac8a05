"""Questions in plain words answered from stored items (pure: no store, no Slack, no network).

`period` reads the time phrase ("this week", "since Monday", "in November"),
`subjects` the topics named or the query the words make, and `answer`
counts the items of the period on that subject (by topic, by feed, Entity
List totals by destination, against the previous period) with each line
citing the items it comes from. The runtime gives it the items; the
renderer (`Renderer.render_answer`) turns an `Answer` into Slack messages;
`bot.llm` may add a summary written from the cited items only.
"""

from bot.brief.ask.answer import Answer, Line, Question, build_answer, understand, zone_of
from bot.brief.ask.period import Period, read_period
from bot.brief.ask.subjects import Subject, read_subject

__all__ = [
    "Answer",
    "Line",
    "Period",
    "Question",
    "Subject",
    "build_answer",
    "read_period",
    "read_subject",
    "understand",
    "zone_of",
]
