"""A Federal Register document's one line, worded from its stored facts (pure).

    Final rule · 15 CFR 744 · effective 20 Dec · comments until 15 Jan · 89 FR 1064

Worded at render time from `Item.extras["federal_register"]`, so items stored
before a wording change read like new ones. A correction says what it
corrects; a date a correction or a later fetch moved says so ("comments close
4 Mar -> 18 Mar"). Dates are written "20 Dec", with the year only when it is
not `today`'s. The API's texts are feed text: the renderer escapes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from bot.ingest.fedreg.facts import FederalRegisterFacts, short_date

__all__ = ["MAX_CFR_PARTS", "fedreg_line", "kind_label"]

#: CFR parts named on the line; the rest are counted ("15 CFR 734, 744 +2").
MAX_CFR_PARTS = 2

_KINDS = {
    "Rule": "Final rule",
    "Proposed Rule": "Proposed rule",
    "Notice": "Notice",
    "Presidential Document": "Presidential document",
}


def kind_label(facts: FederalRegisterFacts) -> str:
    """ "Final rule", "Interim final rule", "Proposed rule", "Notice", ...: the type, in words."""
    action = facts.action.rstrip(".").strip()
    if facts.type == "Rule" and action.lower() in ("interim final rule", "direct final rule"):
        return action[:1].upper() + action[1:].lower()
    return _KINDS.get(facts.type, facts.type)


def fedreg_line(extras: Mapping[str, Any], *, today: date | None = None) -> str | None:
    """The line of an item's stored facts, or None when it has none (or they do not read)."""
    facts = FederalRegisterFacts.of(extras)
    if facts is None:
        return None
    year = today.year if today is not None else None
    parts = [kind_label(facts)]
    if facts.correction_of:
        parts[0] = f"Correction of {facts.correction_of}"
    if facts.cfr_parts:
        parts.append(_cfr(facts.cfr_parts))
    if facts.effective_on:
        parts.append(f"effective {_day(facts.effective_on, year)}")
    if facts.comments_close_on:
        parts.append(f"comments until {_day(facts.comments_close_on, year)}")
    if facts.citation:
        parts.append(facts.citation)
    line = " · ".join(parts)
    if facts.changes:
        line += f" ({'; '.join(facts.changes[-2:])})"
    return line


def _day(day: date, year: int | None) -> str:
    shown = short_date(day)
    return shown if year is None or day.year == year else f"{shown} {day.year}"


def _cfr(parts: tuple[str, ...]) -> str:
    """ "15 CFR 744", "15 CFR 734, 744", "15 CFR 734, 740 +3": one title named once."""
    titles = {part.split(" CFR ", 1)[0] for part in parts}
    shown = parts[:MAX_CFR_PARTS]
    if len(titles) == 1 and " CFR " in shown[0]:
        title = shown[0].split(" CFR ", 1)[0]
        text = f"{title} CFR " + ", ".join(p.split(" CFR ", 1)[1] for p in shown)
    else:
        text = ", ".join(shown)
    rest = len(parts) - len(shown)
    return f"{text} +{rest}" if rest else text
