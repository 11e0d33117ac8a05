"""HTTP header values both HTTP clients read: Retry-After, Cache-Control max-age, HTTP-dates.

Pure (the standard library only), so the feed fetcher (`bot.ingest.fetch`) and
the Slack client (`bot.slack.client`) read these headers by the same rules.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

__all__ = ["parse_http_date", "parse_max_age", "parse_retry_after"]


def parse_retry_after(
    value: str | None, *, date: str | None = None, now: float | None = None
) -> float | None:
    """Seconds to wait from a Retry-After header, or None when absent or unreadable.

    RFC 9110 §10.2.3: either delay-seconds or an HTTP-date. A date is measured
    against the response's own Date header (`date`) when it has a readable
    one, so a server with a skewed clock still means what it says; else
    against `now` (a POSIX timestamp; our clock when None). A date in the past
    means 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    when = parse_http_date(text)
    if when is None:
        return None
    reference = parse_http_date(date) if date else None
    if reference is None:
        reference = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return max(0.0, (when - reference).total_seconds())


def parse_max_age(cache_control: str | None, age: str | None = None) -> float | None:
    """Seconds a response stays fresh, from Cache-Control max-age minus Age.

    RFC 9111 §5.2.2.1 and §4.2.3 (an upstream cache's Age uses up freshness).
    `no-store` or `no-cache` mean the server wants every use revalidated, so
    they cancel max-age here. `s-maxage` is for shared caches and ignored.
    """
    if not cache_control:
        return None
    directives: dict[str, str] = {}
    for part in cache_control.split(","):
        name, _, argument = part.strip().partition("=")
        directives[name.strip().lower()] = argument.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    raw = directives.get("max-age", "")
    if not raw.isdigit():
        return None
    used = int(age.strip()) if age and age.strip().isdigit() else 0
    return float(max(0, int(raw) - used))


def parse_http_date(text: str) -> datetime | None:
    """An HTTP-date (RFC 9110 §5.6.7) as an aware UTC datetime, or None when unreadable."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    # HTTP-dates are always GMT (RFC 9110 §5.6.7), even when written with -0000.
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
