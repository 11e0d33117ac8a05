"""Deadlines of Federal Register documents: comment periods closing, rules taking effect (pure).

`upcoming(items, start, end)` reads each item's stored facts
(`Item.extras["federal_register"]`, bot/ingest/fedreg/facts.py) and returns
every deadline from `start` to `end` (dates, both included), soonest first.
It is what `/brief deadlines`, a digest's "Deadlines" section, the reminders,
the monthly briefing and the App Home all list, so they agree.

Not obvious:
- One document reaches the bot through several feeds (fr-bis and
  fr-entity-list carry the same rules): each document's deadline is listed
  once, from the first item given (callers pass items in seq order, so the
  first stored), whatever its `duplicate_of`.
- A correction (its `correction_of` set, or a "C1-" number) is not listed
  itself: the enrichment moved the corrected document's dates already, and
  listing both would show the old date beside the new one.
- A document that gives both dates gives two deadlines ("comments" and
  "effective"); one whose facts do not read back is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import Item

__all__ = ["KINDS", "Deadline", "DeadlineKind", "upcoming"]

DeadlineKind = Literal["comments", "effective"]
#: Both kinds, in the order a day's deadlines are listed.
KINDS: tuple[DeadlineKind, ...] = ("comments", "effective")


@dataclass(frozen=True, slots=True)
class Deadline:
    """One date an analyst acts on: comments close on `on`, or the rule takes effect."""

    kind: DeadlineKind
    on: date
    item: Item
    facts: FederalRegisterFacts

    @property
    def document_number(self) -> str:
        return self.facts.document_number

    @property
    def label(self) -> str:
        """ "comments close" or "takes effect", as a list line says it."""
        return "comments close" if self.kind == "comments" else "takes effect"


def upcoming(
    items: Iterable[Item],
    start: date,
    end: date,
    *,
    kinds: Iterable[DeadlineKind] = KINDS,
) -> list[Deadline]:
    """Every deadline of `items` from `start` to `end` (both included), soonest first.

    Within a day, comment periods before rules taking effect, then by
    document number. Items without Federal Register facts are ignored.
    """
    wanted = frozenset(kinds)
    found: dict[tuple[str, DeadlineKind], Deadline] = {}
    for item in items:
        facts = FederalRegisterFacts.of(item.extras)
        if facts is None or facts.is_correction:
            continue
        dates: tuple[tuple[DeadlineKind, date | None], ...] = (
            ("comments", facts.comments_close_on),
            ("effective", facts.effective_on),
        )
        for kind, day in dates:
            key = (facts.document_number, kind)
            if day is None or kind not in wanted or key in found or not start <= day <= end:
                continue
            found[key] = Deadline(kind=kind, on=day, item=item, facts=facts)
    order = {kind: n for n, kind in enumerate(KINDS)}
    return sorted(found.values(), key=lambda d: (d.on, order[d.kind], d.document_number))
