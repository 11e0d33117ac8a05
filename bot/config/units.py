"""The units feeds.yaml is written in: durations, sizes, weekdays, times of day; read and written.

Public because the CLI and the Slack commands parse the same forms
(`/brief digest at 08:30 mon-fri`). Each parser raises ValueError with a
message fit for an operator, the value quoted by `show_value`, which the
feeds.yaml checker uses for every value it quotes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import time

__all__ = [
    "ALL_DAYS",
    "DAY_NAMES",
    "format_days",
    "format_duration",
    "parse_days",
    "parse_duration",
    "parse_size",
    "parse_time_of_day",
    "show_value",
]

ALL_DAYS: frozenset[int] = frozenset(range(7))


def show_value(text: str, limit: int = 60) -> str:
    """A value quoted for an error message, shortened."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    if "'" in short or not short.isprintable():
        return repr(short)
    return f"'{short}'"


_DURATION_RE = re.compile(
    r"(?:(?P<d>\d{1,6})\s*d)?\s*(?:(?P<h>\d{1,6})\s*h)?\s*"
    r"(?:(?P<m>\d{1,6})\s*m)?\s*(?:(?P<s>\d{1,9})\s*s)?",
    re.IGNORECASE,
)
_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Seconds in "90s", "15m", "2h", "1d" or "1h30m" (units in that order, each once).

    Raises ValueError with a message fit for an operator.
    """
    cleaned = text.strip()
    match = _DURATION_RE.fullmatch(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        raise ValueError(f"{show_value(text)} is not a duration such as 15m or 2h")
    return sum(int(v) * _DURATION_UNITS[k] for k, v in match.groupdict().items() if v)


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for whole seconds: 5400 -> "1h30m"."""
    if seconds != int(seconds) or seconds < 0:
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in _DURATION_UNITS.items():
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


# Binary multiples, as in the default max_bytes of 10 * 1024 * 1024 ("10MB").
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE_RE = re.compile(r"(\d{1,12})\s*(?:([kmg])(?:i?b)?|(b)?)", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes in "512KB", "10MB", "1GB" (binary: 1KB = 1024 bytes) or a plain number."""
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{show_value(text)} is not a size such as 512KB or 10MB")
    unit = (match.group(2) or match.group(3) or "").lower()
    return int(match.group(1)) * _SIZE_UNITS[unit]


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{name: i for i, name in enumerate(DAY_NAMES)},
    **{
        full: i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_DAY_SETS = {
    "daily": ALL_DAYS,
    "everyday": ALL_DAYS,
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}


def parse_days(spec: str | Iterable[str]) -> frozenset[int]:
    """Weekday numbers (0=Monday) from "mon-fri", "mon,wed,fri", "daily", "weekdays",
    "weekends", "fri-mon" (ranges wrap), or a list of such parts."""
    parts = [spec] if isinstance(spec, str) else list(spec)
    days: set[int] = set()
    for part in parts:
        for word in re.split(r"[,\s]+", part.strip().lower()):
            if not word:
                continue
            if word in _DAY_SETS:
                days |= _DAY_SETS[word]
                continue
            first, dash, last = word.partition("-")
            for name in (first, last) if dash else (first,):
                if name not in _DAY_ALIASES:
                    raise ValueError(f"{show_value(name)} is not a day name such as mon or friday")
            start = _DAY_ALIASES[first]
            end = _DAY_ALIASES[last] if dash else start
            days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    if not days:
        raise ValueError("names no day, so the digest would never be sent")
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    """A short spec for a set of weekdays: "daily", "mon-fri", "mon,wed,fri"."""
    if days == ALL_DAYS:
        return "daily"
    ordered = sorted(days)
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    out = []
    for run in runs:
        if len(run) >= 3:
            out.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            out.extend(DAY_NAMES[d] for d in run)
    return ",".join(out)


_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")


def parse_time_of_day(text: str) -> time:
    """A 24-hour "HH:MM" time of day."""
    match = _TIME_RE.fullmatch(text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{show_value(text)} is not a time of day such as 08:30 (24-hour HH:MM)")
    return time(int(match.group(1)), int(match.group(2)))
