"""Store what the documents API said: item facts, moved dates, and each document's next attempt.

Runs inside one transaction per enrichment run (`apply_results`), after the
fetches (bot/ingest/fedreg/enrich.py) ended; `track_items` runs inside the
poll's transaction, so an item and its pending document land together.

The rules:
- Each item linking to a document gets `extras["federal_register"]` (the
  `FederalRegisterFacts.as_extras()` contract other stages read).
- A later fetch whose dates differ from the API's previous answer (an
  extension, a delay) moves the stored dates and records the move in
  `changes` ("comments close 4 Mar -> 18 Mar"). Compared with the API's
  previous answer, not with the stored dates, so a move made by a correction
  is not undone by the original document's unchanged record.
- A correction (`correction_of` set) that gives dates moves those of the
  corrected document's items the same way; the corrected document is found
  among the tracked ones or, failing that, among the newest stored items.
- A document is watched (looked at again every `REFRESH`) while one of its
  dates is ahead; then it leaves the table.
- A failed request leaves its documents pending with the poll's backoff
  (bot/ingest/feedstate.py `backoff_seconds`, Retry-After honoured up to the
  cap); a number the API does not know is retried the same way, and given up
  after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.config.redact import redact_text
from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts, document_number_in
from bot.ingest.feedstate import backoff_seconds
from bot.models import FeedConfig, Item, Settings
from bot.store.ports import TrackedDocument, Transaction

if TYPE_CHECKING:
    from bot.ingest.fedreg.enrich import BatchResult

__all__ = ["MAX_ATTEMPTS", "REFRESH", "EnrichReport", "apply_results", "track_items"]

log = logging.getLogger(__name__)

#: How often a document with a date ahead is fetched again (corrections, extensions).
REFRESH = timedelta(hours=12)
#: Failures in a row after which a document is given up (about a day with the default backoff).
MAX_ATTEMPTS = 10
#: How many of the newest items are searched for a corrected document not tracked any more.
CORRECTED_SCAN = 20_000
ENRICHMENT = "federal-register"


@dataclass
class EnrichReport:
    """What one enrichment run did."""

    requests: int = 0
    enriched: list[str] = field(default_factory=list)  # document numbers whose facts were stored
    not_modified: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # document number -> error
    changes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # number -> moves


def track_items(
    tx: Transaction, feeds: Mapping[str, FeedConfig], items: Iterable[Item], now: datetime
) -> int:
    """Queue the documents of new items of `enrich: federal-register` feeds; return how many."""
    added = 0
    for item in items:
        feed = feeds.get(item.feed_id)
        if feed is None or feed.enrich != ENRICHMENT:
            continue
        number = document_number_in(item.link or "") or document_number_in(item.guid or "")
        if number is None:
            continue
        pair = (item.feed_id, item.id)
        known = tx.fr_documents.get(number)
        if known is None:
            tx.fr_documents.put(TrackedDocument(number, (pair,), next_attempt=now))
            added += 1
        elif pair not in known.items:
            due = min(known.next_attempt, now) if not known.enriched else now
            tx.fr_documents.put(replace(known, items=(*known.items, pair), next_attempt=due))
    return added


def apply_results(
    tx: Transaction,
    results: Sequence[BatchResult],
    *,
    now: datetime,
    settings: Settings,
) -> EnrichReport:
    """Store every batch's outcome (see the module docstring)."""
    report = EnrichReport(requests=len(results))
    for result in (_refreshed(tx, r) for r in results):
        if result.fetch.not_modified:
            report.not_modified += len(result.batch.documents)
            for doc in result.batch.documents:
                tx.fr_documents.put(
                    replace(doc, attempts=0, last_error=None, next_attempt=now + REFRESH)
                )
        elif not result.ok:
            error = result.error or result.fetch.error or "fetch failed"
            for doc in result.batch.documents:
                _failed(tx, doc, error, result.fetch.retry_after, now, settings, report)
        else:
            _stored(tx, result, now, settings, report)
    return report


def _refreshed(tx: Transaction, result: BatchResult) -> BatchResult:
    """The batch with each document's items as stored now (a poll may have added one)."""
    documents = []
    for doc in result.batch.documents:
        current = tx.fr_documents.get(doc.document_number)
        documents.append(doc if current is None else replace(doc, items=current.items))
    return replace(result, batch=replace(result.batch, documents=tuple(documents)))


def _stored(
    tx: Transaction, result: BatchResult, now: datetime, settings: Settings, report: EnrichReport
) -> None:
    for doc in result.batch.documents:
        facts = result.facts.get(doc.document_number)
        if facts is None:
            error = "the documents API does not know this document number"
            _failed(tx, doc, error, None, now, settings, report)
            continue
        moved = _store_facts(tx, doc, facts)
        if moved:
            report.changes[doc.document_number] = moved
        report.enriched.append(doc.document_number)
        if facts.correction_of and (facts.effective_on or facts.comments_close_on):
            _apply_correction(tx, facts, report, now)
        current = _current_facts(tx, doc) or facts
        if _ahead(current, now.date()):
            tx.fr_documents.put(
                replace(
                    doc,
                    enriched=True,
                    attempts=0,
                    last_error=None,
                    next_attempt=now + REFRESH,
                    etag=result.fetch.etag,
                    last_modified=result.fetch.last_modified,
                    api_dates=(facts.effective_on, facts.comments_close_on),
                )
            )
        else:
            tx.fr_documents.delete(doc.document_number)


def _store_facts(
    tx: Transaction, doc: TrackedDocument, facts: FederalRegisterFacts
) -> tuple[str, ...]:
    """Put `facts` on every item of `doc`; return the date moves recorded (a later fetch)."""
    moved: tuple[str, ...] = ()
    for feed_id, item_id in doc.items:
        item = tx.items.get(feed_id, item_id)
        if item is None:
            continue  # pruned meanwhile
        old = FederalRegisterFacts.of(item.extras)
        new = facts
        if old is not None and doc.enriched:
            # Keep the stored dates (a correction may have moved them) unless the API moved its own.
            new = replace(
                facts,
                effective_on=old.effective_on,
                comments_close_on=old.comments_close_on,
                changes=old.changes,
            )
            api_effective, api_close = doc.api_dates
            new = new.with_dates(
                facts.effective_on if facts.effective_on != api_effective else None,
                facts.comments_close_on if facts.comments_close_on != api_close else None,
            )
            moved = new.changes[len(old.changes) :]
        tx.items.update_extras(feed_id, item_id, {EXTRAS_KEY: new.as_extras()})
    return moved


def _apply_correction(
    tx: Transaction, correction: FederalRegisterFacts, report: EnrichReport, now: datetime
) -> None:
    """Move the corrected document's stored dates to the correction's."""
    target = correction.correction_of
    assert target is not None
    for item in _items_of(tx, target):
        old = FederalRegisterFacts.of(item.extras)
        if old is None:
            continue
        new = old.with_dates(correction.effective_on, correction.comments_close_on)
        if new is old:
            continue
        tx.items.update_extras(item.feed_id, item.id, {EXTRAS_KEY: new.as_extras()})
        report.changes[target] = new.changes[len(old.changes) :]
    tracked = tx.fr_documents.get(target)
    if tracked is not None:
        tx.fr_documents.put(replace(tracked, next_attempt=min(tracked.next_attempt, now + REFRESH)))


def _items_of(tx: Transaction, number: str) -> list[Item]:
    tracked = tx.fr_documents.get(number)
    if tracked is not None:
        found = [tx.items.get(feed_id, item_id) for feed_id, item_id in tracked.items]
        return [item for item in found if item is not None]
    return [
        item
        for item in tx.items.newest_first(CORRECTED_SCAN)
        if (facts := FederalRegisterFacts.of(item.extras)) is not None
        and facts.document_number == number
    ]


def _current_facts(tx: Transaction, doc: TrackedDocument) -> FederalRegisterFacts | None:
    for feed_id, item_id in doc.items:
        item = tx.items.get(feed_id, item_id)
        if item is not None and (facts := FederalRegisterFacts.of(item.extras)) is not None:
            return facts
    return None


def _ahead(facts: FederalRegisterFacts, today: date) -> bool:
    return any(
        day is not None and day >= today for day in (facts.effective_on, facts.comments_close_on)
    )


def _failed(
    tx: Transaction,
    doc: TrackedDocument,
    error: str,
    retry_after: float | None,
    now: datetime,
    settings: Settings,
    report: EnrichReport,
) -> None:
    attempts = doc.attempts + 1
    error = redact_text(error)
    report.failed[doc.document_number] = error
    if attempts >= MAX_ATTEMPTS and not doc.enriched:
        log.warning(
            "Federal Register %s given up after %d attempts: %s",
            doc.document_number,
            attempts,
            error,
        )
        tx.fr_documents.delete(doc.document_number)
        return
    wait = max(
        backoff_seconds(attempts, settings), min(retry_after or 0.0, settings.backoff_max_seconds)
    )
    tx.fr_documents.put(
        replace(
            doc, attempts=attempts, last_error=error, next_attempt=now + timedelta(seconds=wait)
        )
    )
