"""The period a question names ("this week", "since Monday", "in November"), as instants.

`read_period(text, now=..., zone=...)` finds the first time phrase in a line
of plain words and returns the `Period` it stands for plus the line without
the phrase. Days are the asker's: "today" starts at midnight in `zone`.

Not obvious:
- A period never ends after `now`: "this week" on a Wednesday at noon is
  Monday 00:00 to Wednesday noon, and "the previous period of the same
  length" (`Period.previous`) is the 2.5 days before Monday.
- A date without a year is the latest one not after today ("in December"
  asked in November is last December; "since 3 March" likewise).
- "last week" / "last month" / "last year" are the calendar ones before the
  current; "past week" and "last 7 days" are the 7 days up to now.
- "between 1 and 15 November" and "from 1 to 7 December" include both days;
  a range given backwards is turned round.
- No phrase: the last 7 days (`DEFAULT_DAYS`), said so in the label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.daynames import MONTHS, WEEKDAYS
from bot.models import as_utc

__all__ = ["DEFAULT_DAYS", "Period", "day_range_label", "read_period"]

DEFAULT_DAYS = 7

_MONTHS = [name.lower() for name in MONTHS]
_MONTH_NAMES = {name: n for n, name in enumerate(_MONTHS, 1)}
_MONTH_NAMES |= {name[:3]: n for n, name in enumerate(_MONTHS, 1)} | {"sept": 9}
_WEEKDAYS = [name.lower() for name in WEEKDAYS]
_WEEKDAY_NAMES = {name: n for n, name in enumerate(_WEEKDAYS)}
_WEEKDAY_NAMES |= {name[:3]: n for n, name in enumerate(_WEEKDAYS)}

_MONTH = r"(?:" + "|".join(sorted(_MONTH_NAMES, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:" + "|".join(sorted(_WEEKDAY_NAMES, key=len, reverse=True)) + r")"
_ORD = r"(?:st|nd|rd|th)?"
# One calendar date: 2026-11-03, 3 November [2026], November 3[rd][,] [2026].
_DATE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}{_ORD}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{1,2}}{_ORD}(?:,?\s+\d{{4}})?)"
)
_AND = r"\s+(?:and|to|until|till|through|thru|-|–)\s+"
_UNITS = {"hour": "hours", "day": "days", "week": "weeks", "month": "months", "year": "years"}
_NUMBER_WORDS = {
    "a": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "ten": 10,
    "fourteen": 14,
    "thirty": 30,
    "ninety": 90,
}
_NUMBER = r"(?:\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"

# Tried in this order; the earliest match in the line wins among them.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("between", rf"\b(?:between|from)\s+(?P<a>{_DATE}|\d{{1,2}}{_ORD}){_AND}(?P<b>{_DATE})"),
        (
            "span",
            rf"\b(?:in\s+|over\s+|during\s+|for\s+)?(?:the\s+)?(?:last|past|previous)\s+"
            rf"(?P<n>{_NUMBER})\s+(?P<unit>hour|day|week|month|year)s?\b",
        ),
        ("since_day", rf"\b(?:since|from|after)\s+(?:last\s+)?(?P<weekday>{_WEEKDAY})\b"),
        ("since_date", rf"\b(?:since|from|after)\s+(?:the\s+)?(?P<a>{_DATE})"),
        ("on_date", rf"\bon\s+(?:the\s+)?(?P<a>{_DATE})"),
        ("on_day", rf"\bon\s+(?:last\s+)?(?P<weekday>{_WEEKDAY})\b"),
        (
            "in_month",
            rf"\b(?:in|during|for)\s+(?:the\s+month\s+of\s+)?(?P<month>{_MONTH})"
            r"(?:\s+(?P<year>\d{4}))?\b",
        ),
        ("in_year", r"\b(?:in|during)\s+(?P<year>(?:19|20)\d{2})\b"),
        (
            "named",
            r"\b(?:so\s+far\s+)?(?P<which>this|last|past|previous)\s+"
            r"(?P<unit>week|month|year)\b",
        ),
        ("today", r"\b(?:so\s+far\s+)?today\b|\bsince\s+(?:this\s+)?morning\b"),
        ("yesterday", r"\byesterday\b"),
        ("since_yesterday", r"\bsince\s+yesterday\b"),
    )
)


@dataclass(frozen=True, slots=True)
class Period:
    """From `start` (inclusive) to `end` (exclusive), UTC; `label` names its days in the
    asker's time zone ("16–18 November 2026").

    `phrase` is what the asker wrote for it ("this week"), or "" for the default.
    """

    start: datetime
    end: datetime
    label: str
    phrase: str = ""

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def previous(self, zone: tzinfo) -> Period:
        """The period of the same length just before this one."""
        start = self.start - self.length
        return Period(start, self.start, day_range_label(start, self.start, zone))

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def read_period(text: str, *, now: datetime, zone: tzinfo) -> tuple[Period, str]:
    """The period `text` names and `text` without its phrase; the last 7 days if none."""
    now = as_utc(now)
    found: tuple[int, str, re.Match[str]] | None = None
    for name, pattern in _PATTERNS:
        match = pattern.search(text)
        if match is not None and (found is None or match.start() < found[0]):
            found = (match.start(), name, match)
    if found is not None:
        _, name, match = found
        period = _resolve(name, match, now, zone)
        if period is not None:
            rest = text[: match.start()] + " " + text[match.end() :]
            return period, " ".join(rest.split())
    start = now - timedelta(days=DEFAULT_DAYS)
    return Period(start, now, day_range_label(start, now, zone)), text


def _resolve(name: str, match: re.Match[str], now: datetime, zone: tzinfo) -> Period | None:
    """The period of one matched phrase; None when its date is not a real one (30 February)."""
    local = now.astimezone(zone)
    today = local.date()
    phrase = " ".join(match.group(0).lower().split())
    try:
        start, end = _bounds(name, match, now, today, zone)
    except ValueError:
        return None
    end = min(end, now)
    if end < start:
        end = start
    return Period(start, end, day_range_label(start, end, zone), phrase)


def _bounds(
    name: str, match: re.Match[str], now: datetime, today: date, zone: tzinfo
) -> tuple[datetime, datetime]:
    def midnight(day: date) -> datetime:
        return as_utc(datetime.combine(day, time(0), tzinfo=zone))

    if name == "between":
        last = _date(match.group("b"), today)
        first = _first_of_range(match.group("a"), last, today)
        first, last = min(first, last), max(first, last)
        return midnight(first), midnight(last + timedelta(days=1))
    if name == "span":
        return now - _span(match.group("n"), match.group("unit")), now
    if name in ("since_day", "on_day"):
        back = (today.weekday() - _WEEKDAY_NAMES[match.group("weekday").lower()[:3]]) % 7
        day = today - timedelta(days=back)
        if name == "since_day":
            return midnight(day), now
        return midnight(day), midnight(day + timedelta(days=1))
    if name in ("since_date", "on_date"):
        day = _date(match.group("a"), today)
        return midnight(day), now if name == "since_date" else midnight(day + timedelta(days=1))
    if name == "in_month":
        month = _MONTH_NAMES[match.group("month").lower().rstrip(".")]
        year_text = match.group("year")
        year = int(year_text) if year_text else today.year - (month > today.month)
        first = date(year, month, 1)
        return midnight(first), midnight(_next_month(first))
    if name == "in_year":
        year = int(match.group("year"))
        return midnight(date(year, 1, 1)), midnight(date(year + 1, 1, 1))
    if name == "named":
        return _named(match.group("which").lower(), match.group("unit").lower(), now, today, zone)
    if name == "today":
        return midnight(today), now
    if name == "yesterday":
        return midnight(today - timedelta(days=1)), midnight(today)
    return midnight(today - timedelta(days=1)), now  # since yesterday


def _named(
    which: str, unit: str, now: datetime, today: date, zone: tzinfo
) -> tuple[datetime, datetime]:
    """this/last/past/previous week, month or year."""

    def midnight(day: date) -> datetime:
        return as_utc(datetime.combine(day, time(0), tzinfo=zone))

    if which == "past":
        return now - _span("1", unit), now
    if unit == "week":
        monday = today - timedelta(days=today.weekday())
        first = monday if which == "this" else monday - timedelta(days=7)
        return midnight(first), midnight(first + timedelta(days=7))
    if unit == "month":
        first = today.replace(day=1)
        if which != "this":
            first = (first - timedelta(days=1)).replace(day=1)
        return midnight(first), midnight(_next_month(first))
    first = date(today.year if which == "this" else today.year - 1, 1, 1)
    return midnight(first), midnight(date(first.year + 1, 1, 1))


def _span(number: str, unit: str) -> timedelta:
    count = _NUMBER_WORDS.get(number.lower()) or int(number)
    days = {"hour": 1 / 24, "day": 1, "week": 7, "month": 30, "year": 365}[unit.lower()]
    return timedelta(days=count * days)


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _date(text: str, today: date) -> date:
    """One date of `_DATE`; without a year, the latest such date not after `today`."""
    text = " ".join(text.lower().replace(",", " ").split())
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    words = [w for w in text.split() if w != "of"]
    day_word = next(w for w in words if w[0].isdigit() and len(w) <= 4)
    day = int(re.sub(r"\D", "", day_word))
    month = next(_MONTH_NAMES[w.rstrip(".")] for w in words if w.rstrip(".") in _MONTH_NAMES)
    years = [int(w) for w in words if re.fullmatch(r"\d{4}", w)]
    if years:
        return date(years[0], month, day)
    found = date(today.year, month, day)
    return found if found <= today else date(today.year - 1, month, day)


def _first_of_range(text: str, last: date, today: date) -> date:
    """The first day of "between A and B": A alone as a day number takes B's month and year."""
    if re.fullmatch(rf"\d{{1,2}}{_ORD}", text.strip(), re.IGNORECASE):
        return last.replace(day=int(re.sub(r"\D", "", text)))
    first = _date(text, today)
    if not re.search(r"\d{4}", text) and first > last:
        first = first.replace(year=last.year) if first.replace(year=last.year) <= last else first
    return first


def day_range_label(start: datetime, end: datetime, zone: tzinfo) -> str:
    """The days from `start` to `end` (exclusive) in `zone`: "16–18 November 2026"."""
    first = start.astimezone(zone).date()
    last_moment = end.astimezone(zone) - timedelta(microseconds=1)
    last = max(first, last_moment.date())
    if first == last:
        return f"{first.day} {_MONTHS[first.month - 1].title()} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {_MONTHS[last.month - 1].title()} {last.year}"
    left = f"{first.day} {_MONTHS[first.month - 1].title()}"
    if first.year != last.year:
        left += f" {first.year}"
    return f"{left} – {last.day} {_MONTHS[last.month - 1].title()} {last.year}"
