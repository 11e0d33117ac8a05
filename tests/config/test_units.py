"""The units feeds.yaml is written in (bot/config/units.py): durations, sizes, days."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config.units import format_days, format_duration, parse_days, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
     ("1h 30m", 5400), ("2H", 7200), ("1d2h3m4s", 93784), ("0m", 0)],
)  # fmt: skip
def test_parse_duration_reads_units(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "15", "15 minutes", "m", "1.5h", "30m1h", "1h1h", "-5m", "15min", "1w"]
)
def test_parse_duration_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration such as 15m or 2h"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**8))
def test_format_duration_reads_back_as_the_same_seconds(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("2048", 2048), ("512KB", 524288), ("512kb", 524288), ("10MB", 10485760),
     ("10 MiB", 10485760), ("1G", 1073741824), ("100B", 100)],
)  # fmt: skip
def test_parse_size_reads_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "1.5MB", "10 parsecs", "-1KB", "10TB"])
def test_parse_size_refuses_other_forms(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size such as 512KB or 10MB"):
        parse_size(text)


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("daily", {0, 1, 2, 3, 4, 5, 6}),
        ("weekdays", {0, 1, 2, 3, 4}),
        ("weekends", {5, 6}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,wed,fri", {0, 2, 4}),
        ("Mon, Wed", {0, 2}),
        ("fri-mon", {4, 5, 6, 0}),
        ("sun", {6}),
        (["monday", "Thursday"], {0, 3}),
        (["mon-wed", "sat"], {0, 1, 2, 5}),
    ],
    ids=str,
)
def test_parse_days_reads_the_documented_forms(spec: str | list[str], days: set[int]) -> None:
    assert parse_days(spec) == frozenset(days)


def test_every_set_of_days_formats_to_a_spec_that_reads_back() -> None:
    for mask in range(1, 128):
        days = frozenset(d for d in range(7) if mask >> d & 1)
        assert parse_days(format_days(days)) == days
    assert format_days(frozenset(range(5))) == "mon-fri"
    assert format_days(frozenset({0, 2, 4})) == "mon,wed,fri"
    assert format_days(frozenset(range(7))) == "daily"
