"""Federal Register enrichment end to end: a feed on loopback -> poll -> the documents API on
loopback (answering as the recorded responses do) -> facts on the stored items."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.app.fedreg import enrich_documents
from bot.config.model import SlackSecrets
from bot.ingest.fedreg.apply import EnrichReport
from bot.ingest.fedreg.enrich import FIELDS
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.ingest.fetch.client import Network
from bot.models import Item
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from tests.app.fedreg_harness import (
    NUMBERS,
    Clock,
    fr_entries,
    new_api,
    open_runtime,
    serve_feed,
)
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.fedregapi import FIXTURES, recorded_documents
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver


def _facts(items: list[Item]) -> dict[str, FederalRegisterFacts]:
    found = {}
    for item in items:
        facts = FederalRegisterFacts.of(item.extras)
        if facts is not None:
            found[facts.document_number] = facts
    return found


def test_poll_queues_then_one_batched_request_stores_the_facts(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server)
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        [report] = runtime.poll(force=True)
        assert report.new_items == 3
        assert api.requests == [], "the poll itself never asks the API"
        assert {d.document_number for d in runtime.store.fr_documents.all()} == set(NUMBERS)

        done = enrich_documents(runtime)
        [request] = api.requests
        assert set(request.numbers) == set(NUMBERS)
        assert request.path.startswith("/api/v1/documents/") and "," in request.path
        assert set(request.fields) == set(FIELDS)
        assert sorted(done.enriched) == sorted(NUMBERS)

        facts = _facts(list(runtime.store.items.after()))
        assert facts["2023-27783"].type == "Rule"
        assert facts["2023-27783"].effective_on == date(2024, 2, 1)
        assert facts["2023-27783"].cfr_parts == ("46 CFR 520",)
        assert facts["2023-27019"].comments_close_on == date(2024, 3, 4)
        assert facts["2024-00190"].citation == "89 FR 1064"
        # Dates ahead: watched; the notice without dates leaves the table.
        watched = {d.document_number for d in runtime.store.fr_documents.all()}
        assert watched == {"2023-27783", "2023-27019"}


def test_a_500_leaves_them_pending_with_backoff_then_success(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server)
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        runtime.poll(force=True)
        api.fail_next = [500]
        failed = enrich_documents(runtime)
        assert set(failed.failed) == set(NUMBERS)
        assert "HTTP 500" in failed.failed["2023-27783"]
        pending = runtime.store.fr_documents.all()
        assert all(d.attempts == 1 and not d.enriched for d in pending)
        # backoff_base 5m, jittered by 20%
        assert all(
            timedelta(minutes=4) <= d.next_attempt - clock.now <= timedelta(minutes=6)
            for d in pending
        )
        assert enrich_documents(runtime).requests == 0, "not due yet: nothing asked"
        clock.advance(minutes=7)
        again = enrich_documents(runtime)
        assert sorted(again.enriched) == sorted(NUMBERS) and not again.failed
        assert len(_facts(list(runtime.store.items.after()))) == 3


def test_refetch_is_conditional_and_a_304_changes_nothing(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server)
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        runtime.poll(force=True)
        enrich_documents(runtime)
        # The first look again asks for the two watched documents (a new batch: 200) ...
        clock.advance(hours=13)
        assert sorted(enrich_documents(runtime).enriched) == ["2023-27019", "2023-27783"]
        before = list(runtime.store.items.after())
        # ... the next one for the same two, with the ETag of that answer: 304.
        clock.advance(hours=13)
        report = enrich_documents(runtime)
        last = api.requests[-1]
        assert last.numbers == ("2023-27019", "2023-27783")
        assert last.headers.get("If-None-Match", "").startswith('"')
        assert report.not_modified == 2 and not report.enriched
        assert list(runtime.store.items.after()) == before


def test_a_later_fetch_that_moves_the_comment_date_says_what_changed(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server)
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        runtime.poll(force=True)
        enrich_documents(runtime)
        api.set_dates("2023-27019", comments_close_on="2024-03-18")
        clock.advance(hours=13)
        report = enrich_documents(runtime)
        assert report.changes == {"2023-27019": ("comments close 4 Mar -> 18 Mar",)}
        facts = _facts(list(runtime.store.items.after()))["2023-27019"]
        assert facts.comments_close_on == date(2024, 3, 18)
        assert facts.changes == ("comments close 4 Mar -> 18 Mar",)


def test_the_recorded_multi_document_exchange_is_read_as_recorded(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    """fr_api_vcr_multi_document_2017.yml replayed verbatim: body, ETag, content type."""
    numbers = ("2017-27451", "2017-27513")
    links = [f"https://www.federalregister.gov/documents/2017/12/21/{n}/x" for n in numbers]
    feed_server.add(
        "/fr.rss",
        make_rss(
            [
                Entry(title=f"Doc {n}", link=link, guid=link)
                for n, link in zip(numbers, links, strict=True)
            ]
        ),
    )
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        api.add_recorded(FIXTURES / "fr_api_vcr_multi_document_2017.yml")
        runtime.poll(force=True)
        report = enrich_documents(runtime)
        assert api.requests[0].numbers == numbers  # recorded as 2017-27513,2017-27451
        assert sorted(report.enriched) == list(numbers)
        facts = _facts(list(runtime.store.items.after()))
        assert facts["2017-27451"].citation == "82 FR 60602"
        assert facts["2017-27451"].agencies == ("Federal Reserve System",)


def test_a_slow_api_fails_the_fetch_not_the_poll(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server, NUMBERS[:1])
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        runtime.poll(force=True)
        api.delay = 4.0  # past read_timeout (2 s)
        finished = threading.Event()
        outcome: list[EnrichReport] = []

        def enrich() -> None:
            outcome.append(enrich_documents(runtime))
            finished.set()

        worker = threading.Thread(target=enrich)
        worker.start()
        serve_feed(feed_server, NUMBERS)
        [report] = runtime.poll(force=True)  # while the API keeps the enrichment waiting
        assert report.new_items == 2
        assert not finished.is_set(), "the poll finished while the enrichment still waited"
        worker.join(10)
        [slow] = outcome
        assert slow.failed[NUMBERS[0]].startswith("timed out after 2 s waiting for data from")
        assert runtime.store.fr_documents.get(NUMBERS[0]) is not None, "still pending"


def test_a_correction_moves_the_corrected_documents_date(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server, ("2023-27019",))
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        runtime.poll(force=True)
        enrich_documents(runtime)
        # The recorded correction C1-2023-27742, made to correct 2023-27019 and move its date.
        correction = dict(recorded_documents()["C1-2023-27742"])
        correction.update(
            document_number="C1-2023-27019",
            correction_of="https://www.federalregister.gov/api/v1/documents/2023-27019",
            comments_close_on="2024-03-18",
            html_url="https://www.federalregister.gov/documents/2024/01/12/C1-2023-27019/x",
        )
        api.documents["C1-2023-27019"] = correction
        entries = fr_entries(("2023-27019",))
        link = correction["html_url"]
        entries.insert(0, Entry(title="Correction", link=link, guid=link))
        feed_server.add("/fr.rss", make_rss(entries))
        clock.advance(hours=1)
        runtime.poll(force=True)
        report = enrich_documents(runtime)
        assert report.changes["2023-27019"] == ("comments close 4 Mar -> 18 Mar",)
        facts = _facts(list(runtime.store.items.after()))
        assert facts["2023-27019"].comments_close_on == date(2024, 3, 18)
        # The original's record, refetched later, still says 4 Mar: the correction's move stays.
        clock.advance(hours=13)
        enrich_documents(runtime)
        facts = _facts(list(runtime.store.items.after()))
        assert facts["2023-27019"].comments_close_on == date(2024, 3, 18)
        assert facts["2023-27019"].changes == ("comments close 4 Mar -> 18 Mar",)


def test_the_digest_reaching_slack_has_the_line_and_a_deadlines_section(
    feed_server: FeedServer, fake_slack: FakeSlack, tmp_path: Path, backend: Backend
) -> None:
    fake_slack.add_channel("C0DIGEST01")
    digest_yaml = 'digests:\n  - channel: C0DIGEST01\n    at: "08:00"\n    timezone: UTC\n'
    serve_feed(feed_server)
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(
            feed_server, api, tmp_path, clock, extra=digest_yaml, backend=backend
        ) as runtime,
    ):
        runtime.poll(force=True)
        enrich_documents(runtime)
        # A new rule arrives; the week of 28 Jan holds 2023-27783's effective date (1 Feb).
        clock.now = datetime(2024, 1, 28, 9, 0, tzinfo=UTC)
        serve_feed(feed_server, ("2023-28483", *NUMBERS))
        runtime.poll(force=True)
        enrich_documents(runtime)
        secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)
        poster = Deliverer(make_web_client(secrets, max_retries=0), interval=0.01, attempts=1)
        outcome = runtime.send_digest(runtime.config.digests[0], poster)
        assert outcome.status == "sent", outcome
    messages = fake_slack.messages("C0DIGEST01")
    text = "\n".join(json.dumps(m.blocks, ensure_ascii=False) for m in messages)
    assert "Final rule · 50 CFR 223, 226 · effective 1 Feb · 89 FR 126" in text
    assert "*Deadlines this week* (2)" in text
    week = text[text.index("Deadlines this week") :]
    assert week.index("Thu 1 Feb: takes effect") < week.index("Carrier Automated Tariffs")
    assert "Final rule · 46 CFR 520 · effective 1 Feb · 89 FR 25" in week
    assert "comments close" not in week, "4 Mar is not this week"


def test_the_api_is_fetched_within_the_address_guard(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    """An API URL on loopback, with the bot's own policy (public only): refused, kept pending."""
    serve_feed(feed_server, NUMBERS[:1])
    clock = Clock()
    public_only = Network(resolver=FakeResolver({}))
    with (
        new_api() as api,
        open_runtime(
            feed_server, api, tmp_path, clock, network=public_only, backend=backend
        ) as runtime,
    ):
        runtime.poll(force=True)
        report = enrich_documents(runtime)
        assert api.requests == [], "no connection was made"
        assert "loopback" in report.failed[NUMBERS[0]]
        [pending] = runtime.store.fr_documents.all()
        assert pending.attempts == 1 and "loopback" in (pending.last_error or "")


def test_an_answer_that_is_not_json_fails_the_batch(
    feed_server: FeedServer, tmp_path: Path, backend: Backend
) -> None:
    serve_feed(feed_server, NUMBERS[:2])
    clock = Clock()
    with (
        new_api() as api,
        open_runtime(feed_server, api, tmp_path, clock, backend=backend) as runtime,
    ):
        api.recorded[frozenset(NUMBERS[:2])] = (200, {"Content-Type": "text/html"}, b"<html>")
        runtime.poll(force=True)
        report = enrich_documents(runtime)
        assert report.failed == dict.fromkeys(
            NUMBERS[:2], "documents API: the answer is not JSON (JSONDecodeError)"
        )
        assert _facts(list(runtime.store.items.after())) == {}
