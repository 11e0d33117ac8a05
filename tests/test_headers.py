"""The HTTP header values both HTTP clients read (bot/headers.py).

Retry-After is read two ways: the feed fetcher measures an HTTP-date against
the response's own Date header, the Slack client against a clock (`now`).
"""

from __future__ import annotations

from email.utils import formatdate

import pytest

from bot.headers import parse_max_age, parse_retry_after


@pytest.mark.parametrize(
    ("value", "date", "expected"),
    [
        pytest.param("120", None, 120.0, id="seconds"),
        pytest.param(" 0 ", None, 0.0, id="zero-with-spaces"),
        pytest.param(
            "Wed, 21 Oct 2015 07:30:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            120.0,
            id="date-vs-response-date",
        ),
        pytest.param(
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:30:00 GMT",
            0.0,
            id="date-in-the-past",
        ),
        pytest.param("-5", None, None, id="negative"),
        pytest.param("soon", None, None, id="garbage"),
        pytest.param("1.5", None, None, id="fraction"),
        pytest.param(None, None, None, id="absent"),
    ],
)
def test_parse_retry_after_against_the_response_date(
    value: str | None, date: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, date=date) == expected


@pytest.mark.parametrize(
    ("cache_control", "age", "expected"),
    [
        pytest.param("public, max-age=86400", None, 86400.0, id="federal-register"),
        pytest.param("max-age=600", "100", 500.0, id="age-used-up"),
        pytest.param("max-age=600", "900", 0.0, id="stale"),
        pytest.param('max-age="300"', None, 300.0, id="quoted"),
        pytest.param("MAX-AGE=60", None, 60.0, id="case"),
        pytest.param("max-age=600, no-cache", None, None, id="no-cache-wins"),
        pytest.param("no-store, max-age=600", None, None, id="no-store-wins"),
        pytest.param("s-maxage=600", None, None, id="shared-only"),
        pytest.param("max-age=-1", None, None, id="negative"),
        pytest.param(None, None, None, id="absent"),
    ],
)
def test_parse_max_age(cache_control: str | None, age: str | None, expected: float | None) -> None:
    assert parse_max_age(cache_control, age) == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("1", 1.0, id="delta-seconds"),
        pytest.param("120", 120.0, id="two-minutes"),
        pytest.param(formatdate(1_000_030, usegmt=True), 30.0, id="http-date"),
        pytest.param(formatdate(999_000, usegmt=True), 0.0, id="date-in-the-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after_against_a_clock(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=1_000_000) == seconds
