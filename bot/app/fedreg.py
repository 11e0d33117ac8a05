"""The Federal Register jobs of a Runtime: enrichment after the polls (reminders: app/reminders.py).

`enrich_documents` is its own scheduler job (bot/app/scheduler/jobs.py
[fr-enrich]), run every minute and right after a poll that stored items of an
`enrich: federal-register` feed, never inside the poll: the poll's transaction
only queues each new item's document number (bot/ingest/fedreg/apply.py
`track_items`). The fetches run with no transaction open; one transaction
then stores every answer (facts, moved dates, next attempts).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.ingest.fedreg.apply import EnrichReport, apply_results
from bot.ingest.fedreg.enrich import fetch_due, plan
from bot.models import Item
from bot.store.ports import ReadView

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

__all__ = ["deadline_items", "enrich_documents"]

log = logging.getLogger(__name__)


def enrich_documents(runtime: Runtime) -> EnrichReport:
    """Fetch the tracked documents that are due and store what the API said."""
    options = runtime.enrich_options
    due = runtime.store.fr_documents.due(
        runtime.clock(), limit=options.batch_size * options.max_batches
    )
    if not due:
        return EnrichReport()
    settings = runtime.config.settings
    results = fetch_due(plan(due, options), settings, network=runtime.network, options=options)
    with runtime.store.transaction() as tx:
        report = apply_results(tx, results, now=runtime.clock(), settings=settings)
    if report.failed:
        first = next(iter(report.failed.items()))
        log.info(
            "Federal Register enrichment: %d document(s) failed, e.g. %s: %s",
            len(report.failed),
            *first,
        )
    return report


def deadline_items(store: ReadView) -> list[Item]:
    """The stored items of the documents with a date ahead (the watched ones), in seq order.

    What every deadline list reads: the enrichment keeps exactly those
    documents in `fr_documents` (a few hundred at most), so no list has to
    read every stored item.
    """
    found: dict[int, Item] = {}
    for doc in store.fr_documents.all():
        if not doc.enriched:
            continue
        for feed_id, item_id in doc.items:
            item = store.items.get(feed_id, item_id)
            if item is not None:
                found[item.seq] = item
    return [found[seq] for seq in sorted(found)]
