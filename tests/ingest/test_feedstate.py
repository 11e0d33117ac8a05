"""next_feed_state and is_due: health, validators and the next poll time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest.feedstate import backoff_seconds, is_due, next_feed_state
from bot.models import FeedConfig, FeedState, FetchResult, Settings
from tests.support.secretscan import FEED_PASSWORD, FEED_TOKEN

NOW = datetime(2024, 1, 2, 8, 30, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=5)
SETTINGS = Settings(backoff_base_seconds=300, backoff_max_seconds=6 * 3600)
CAP = 6 * 3600
# An interval short enough that the backoff, not the interval, sets the wait.
QUICK = FeedConfig(id="fr", url="https://www.federalregister.gov/x.rss", interval_seconds=60)
HALF_HOUR = FeedConfig(id="fr", url="https://www.federalregister.gov/x.rss", interval_seconds=1800)


def fetched(**kw: object) -> FetchResult:
    fields: dict[str, object] = {
        "feed_id": "fr",
        "url": QUICK.url,
        "ok": True,
        "status_code": 200,
        "body": b"<rss/>",
    }
    fields.update(kw)
    return FetchResult(**fields)  # type: ignore[arg-type]


def failed(**kw: object) -> FetchResult:
    fields: dict[str, object] = {
        "ok": False,
        "status_code": 500,
        "body": b"",
        "error": "HTTP 500 Internal Server Error",
    }
    fields.update(kw)
    return fetched(**fields)


def not_modified(**kw: object) -> FetchResult:
    return fetched(not_modified=True, status_code=304, body=b"", **kw)


def wait_of(state: FeedState) -> float:
    assert state.next_due is not None
    return (state.next_due - NOW).total_seconds()


# -- success -------------------------------------------------------------------


def test_first_success_of_a_new_feed() -> None:
    result = fetched(etag='"v1"', last_modified="Tue, 02 Jan 2024 07:00:00 GMT")
    state = next_feed_state(None, HALF_HOUR, result, now=NOW, settings=SETTINGS, new_items=12)
    assert state == FeedState(
        feed_id="fr",
        last_attempt=NOW,
        last_success=NOW,
        last_status=200,
        etag='"v1"',
        last_modified="Tue, 02 Jan 2024 07:00:00 GMT",
        next_due=NOW + timedelta(minutes=30),
        first_poll_done=True,
        items_stored=12,
        body_bytes=len(b"<rss/>"),
    )


def test_success_after_failures_resets_the_failure_count() -> None:
    prev = FeedState(
        "fr",
        consecutive_failures=4,
        failing_since=EARLIER,
        last_error="HTTP 503 Service Unavailable",
        last_status=503,
        first_poll_done=True,
        items_stored=40,
    )
    state = next_feed_state(prev, HALF_HOUR, fetched(), now=NOW, settings=SETTINGS, new_items=2)
    assert (state.consecutive_failures, state.failing_since, state.last_error) == (0, None, None)
    assert (state.last_success, state.last_status, state.items_stored) == (NOW, 200, 42)
    assert wait_of(state) == 1800


@pytest.mark.parametrize(
    ("max_age", "interval", "expected_wait"),
    [
        pytest.param(None, 1800, 1800, id="no-max-age"),
        pytest.param(600.0, 1800, 1800, id="interval-longer"),
        pytest.param(3600.0, 1800, 3600, id="max-age-longer"),
        pytest.param(86400.0, 1800, CAP, id="federal-register-day-capped"),
        pytest.param(0.0, 1800, 1800, id="zero"),
    ],
)
def test_max_age_is_the_earliest_next_poll(
    max_age: float | None, interval: int, expected_wait: int
) -> None:
    feed = FeedConfig(id="fr", url=QUICK.url, interval_seconds=interval)
    for result in (fetched(max_age=max_age), not_modified(max_age=max_age)):
        state = next_feed_state(None, feed, result, now=NOW, settings=SETTINGS)
        assert wait_of(state) == expected_wait


# -- 304 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("etag", "last_modified", "expected"),
    [
        pytest.param(
            None, None, ('"a"', "Mon, 01 Jan 2024 00:00:00 GMT"), id="304-without-validators"
        ),
        pytest.param('"b"', None, ('"b"', "Mon, 01 Jan 2024 00:00:00 GMT"), id="304-with-new-etag"),
        pytest.param(
            None,
            "Tue, 02 Jan 2024 00:00:00 GMT",
            ('"a"', "Tue, 02 Jan 2024 00:00:00 GMT"),
            id="304-with-new-date",
        ),
    ],
)
def test_304_keeps_validators(
    etag: str | None, last_modified: str | None, expected: tuple[str, str]
) -> None:
    prev = FeedState("fr", etag='"a"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    result = not_modified(etag=etag, last_modified=last_modified)
    state = next_feed_state(prev, HALF_HOUR, result, now=NOW, settings=SETTINGS)
    assert (state.etag, state.last_modified) == expected


def test_the_last_documents_size_is_kept_until_another_document_comes() -> None:
    # The fetcher asks for the largest feeds first (fetch/client.py `_largest_first`).
    first = next_feed_state(None, QUICK, fetched(body=b"x" * 5000), now=NOW, settings=SETTINGS)
    assert first.body_bytes == 5000
    unchanged = next_feed_state(first, QUICK, not_modified(), now=NOW, settings=SETTINGS)
    assert unchanged.body_bytes == 5000
    down = next_feed_state(unchanged, QUICK, failed(), now=NOW, settings=SETTINGS)
    assert down.body_bytes == 5000
    # A document that is not a feed still came, and costs what its size says.
    broken = next_feed_state(
        down, QUICK, fetched(body=b"y" * 700), now=NOW, settings=SETTINGS, parse_error="bad"
    )
    assert broken.body_bytes == 700
    smaller = next_feed_state(broken, QUICK, fetched(body=b"z" * 90), now=NOW, settings=SETTINGS)
    assert smaller.body_bytes == 90


def test_304_is_not_a_failure_and_keeps_the_warning() -> None:
    prev = FeedState(
        "fr",
        consecutive_failures=2,
        failing_since=EARLIER,
        warning="mismatched tag at line 40",
        first_poll_done=True,
    )
    state = next_feed_state(prev, HALF_HOUR, not_modified(), now=NOW, settings=SETTINGS)
    assert (state.consecutive_failures, state.failing_since, state.last_success) == (0, None, NOW)
    assert state.warning == "mismatched tag at line 40"


def test_304_does_not_complete_the_first_poll() -> None:
    prev = FeedState("fr", etag='"a"', first_poll_done=False)
    state = next_feed_state(prev, HALF_HOUR, not_modified(), now=NOW, settings=SETTINGS)
    assert state.first_poll_done is False


def test_a_new_parse_replaces_the_warning() -> None:
    prev = FeedState("fr", warning="old warning", first_poll_done=True)
    clean = next_feed_state(prev, HALF_HOUR, fetched(), now=NOW, settings=SETTINGS)
    bozo = next_feed_state(
        prev, HALF_HOUR, fetched(), now=NOW, settings=SETTINGS, parse_warning="undefined entity"
    )
    assert (clean.warning, bozo.warning) == (None, "undefined entity")


# -- failure -----------------------------------------------------------------------


def test_first_failure_records_when_and_why() -> None:
    prev = FeedState("fr", etag='"a"', last_success=EARLIER, first_poll_done=True)
    state = next_feed_state(prev, HALF_HOUR, failed(), now=NOW, settings=SETTINGS)
    assert state.consecutive_failures == 1
    assert state.failing_since == NOW
    assert state.last_error == "HTTP 500 Internal Server Error"
    assert (state.last_attempt, state.last_success, state.last_status) == (NOW, EARLIER, 500)
    assert state.etag == '"a"'


def test_failing_since_stays_at_the_first_failure() -> None:
    prev = FeedState("fr", consecutive_failures=3, failing_since=EARLIER)
    error = "timed out after 10 s connecting to www.federalregister.gov"
    state = next_feed_state(prev, HALF_HOUR, failed(error=error), now=NOW, settings=SETTINGS)
    assert (state.consecutive_failures, state.failing_since, state.last_error) == (
        4,
        EARLIER,
        error,
    )


def test_no_feed_credential_is_stored_whoever_worded_the_text() -> None:
    # A library's text quoting a URL, a parse error or warning naming the base URL.
    error = f"request failed: InvalidURL for http://u:{FEED_PASSWORD}@h/f?token={FEED_TOKEN}"
    fetch = next_feed_state(None, HALF_HOUR, failed(error=error), now=NOW, settings=SETTINGS)
    parse = next_feed_state(
        None, HALF_HOUR, fetched(), now=NOW, settings=SETTINGS,
        parse_error=f"not a feed at /f?api_key={FEED_TOKEN}",
        parse_warning=f"odd base /f?sig={FEED_TOKEN}",
    )  # fmt: skip
    warned = next_feed_state(
        None, HALF_HOUR, fetched(), now=NOW, settings=SETTINGS,
        parse_warning=f"odd base /f?sig={FEED_TOKEN}",
    )  # fmt: skip
    assert fetch.last_error == "request failed: InvalidURL for http://***@h/f?token=***"
    assert (parse.last_error, parse.warning) == (
        "not a feed at /f?api_key=***",
        "odd base /f?sig=***",
    )
    assert warned.warning == "odd base /f?sig=***"


def test_a_body_that_is_not_a_feed_is_a_failure_and_its_validators_are_dropped() -> None:
    prev = FeedState("fr", etag='"old"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    result = fetched(etag='"html-page"', last_modified="Tue, 02 Jan 2024 00:00:00 GMT")
    state = next_feed_state(
        prev, HALF_HOUR, result, now=NOW, settings=SETTINGS, parse_error="not a feed: an HTML page"
    )
    assert state.consecutive_failures == 1
    assert state.last_error == "not a feed: an HTML page"
    # Keeping the new ETag would turn every later poll into a 304 on a broken page.
    assert (state.etag, state.last_modified) == ('"old"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert state.first_poll_done is False
    assert state.last_success is None


@pytest.mark.parametrize(
    ("failures_before", "center"),
    [
        pytest.param(0, 300, id="1st-failure-5min"),
        pytest.param(1, 600, id="2nd-10min"),
        pytest.param(2, 1200, id="3rd-20min"),
        pytest.param(5, 9600, id="6th"),
        pytest.param(6, 19200, id="7th"),
        pytest.param(7, CAP, id="8th-capped"),
        pytest.param(40, CAP, id="41st-capped"),
        pytest.param(100_000, CAP, id="dead-for-ages"),
    ],
)
def test_backoff_grows_and_is_capped(failures_before: int, center: int) -> None:
    prev = FeedState("fr", consecutive_failures=failures_before, failing_since=EARLIER)
    waits = [
        wait_of(
            next_feed_state(
                prev, QUICK, failed(), now=NOW, settings=SETTINGS, rng=random.Random(seed)
            )
        )
        for seed in range(200)
    ]
    low, high = 0.8 * center, min(1.2 * center, CAP)
    assert all(low <= w <= high for w in waits), (min(waits), max(waits))
    # The jitter really spreads the retries over its range.
    assert max(waits) - min(waits) > 0.6 * (high - low)


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    prev = FeedState("fr", consecutive_failures=2)

    def wait_with(seed: int) -> float:
        rng = random.Random(seed)
        return wait_of(next_feed_state(prev, QUICK, failed(), now=NOW, settings=SETTINGS, rng=rng))

    assert wait_with(7) == wait_with(7)
    assert len({wait_with(seed) for seed in range(10)}) == 10


@pytest.mark.parametrize(
    ("retry_after", "failures_before", "low", "high"),
    [
        pytest.param(7200.0, 0, 7200, 7200, id="retry-after-longer-wins"),
        pytest.param(10.0, 0, 240, 360, id="backoff-longer-wins"),
        pytest.param(10.0**7, 0, CAP, CAP, id="retry-after-capped"),
        pytest.param(None, 0, 240, 360, id="no-retry-after"),
    ],
)
def test_retry_after_wins_when_longer(
    retry_after: float | None, failures_before: int, low: float, high: float
) -> None:
    prev = FeedState("fr", consecutive_failures=failures_before)
    result = failed(status_code=429, error="HTTP 429 Too Many Requests", retry_after=retry_after)
    state = next_feed_state(prev, QUICK, result, now=NOW, settings=SETTINGS, rng=random.Random(1))
    assert low <= wait_of(state) <= high


def test_the_interval_wins_over_a_short_backoff() -> None:
    daily = FeedConfig(id="fr", url=QUICK.url, interval_seconds=86400)
    state = next_feed_state(None, daily, failed(), now=NOW, settings=SETTINGS)
    assert wait_of(state) == 86400


def test_backoff_seconds_of_no_failure_is_zero() -> None:
    assert backoff_seconds(0, SETTINGS) == 0.0


# -- due -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "due"),
    [
        pytest.param(None, True, id="never-polled"),
        pytest.param(FeedState("fr"), True, id="no-next-due"),
        pytest.param(FeedState("fr", next_due=NOW + timedelta(seconds=1)), False, id="not-yet"),
        pytest.param(FeedState("fr", next_due=NOW), True, id="exactly-now"),
        pytest.param(FeedState("fr", next_due=NOW - timedelta(hours=1)), True, id="overdue"),
    ],
)
def test_is_due(state: FeedState | None, due: bool) -> None:
    assert is_due(state, NOW) is due


def test_a_new_state_is_due_exactly_at_next_due() -> None:
    state = next_feed_state(None, HALF_HOUR, fetched(), now=NOW, settings=SETTINGS)
    assert not is_due(state, NOW + timedelta(minutes=29, seconds=59))
    assert is_due(state, NOW + timedelta(minutes=30))
