"""English names of months and weekdays, for every date the bot writes or reads.

Never the C library's locale-dependent `%A`/`%B`: a digest says "Monday 1
June" whatever the host's locale. Index months with `month - 1`, weekdays
with `date.weekday()`.
"""

from __future__ import annotations

__all__ = ["MONTHS", "MONTHS_SHORT", "WEEKDAYS", "WEEKDAYS_SHORT"]

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MONTHS_SHORT = tuple(name[:3] for name in MONTHS)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WEEKDAYS_SHORT = tuple(name[:3] for name in WEEKDAYS)
