"""The screening list's part of a poll: its download and diff, then the names of Entity List rules.

Called by `Runtime.poll` after the feeds (and by `poll_screening_list`). The new
screening-list items are matched like any feed's (subscriptions and watches,
in the same transaction); the rules that gained named entities are matched
against the watches only (their other matching happened when they were
stored). Neither step may stop a poll: a failure is logged and tried again at
the next poll.

`screening_status_row` is the list's line in `/brief status` and `briefbot
status`: its feed state is stored as the feed "screening-list", which no
configured feed may be called (the config checker refuses the id), and the
row adds how many entries the snapshot holds.

A poll with no `screening_list:` set and no rule waiting for its names (most
polls) loads none of the list's code: `unnamed_rules` (bot/ingest/screening/
pending.py) answers that from the few items holding the Entity List key.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.config.redact import redact_text
from bot.ingest.screening.pending import unnamed_rules
from bot.models import Item
from bot.store.ports import Transaction

if TYPE_CHECKING:
    from bot.app.runtime import Runtime
    from bot.ingest.screening.source import ScreeningReport
    from bot.render.inputs import FeedStatusRow

__all__ = ["poll_screening", "screening_status_row"]

log = logging.getLogger(__name__)


def poll_screening(runtime: Runtime, *, force: bool = False) -> ScreeningReport | None:
    """Poll the screening list when it is set and due; name pending Entity List rules."""
    try:
        listed = runtime.config.screening_list
        if (listed is None or not listed.enabled) and not unnamed_rules(runtime.store.items):
            return None  # nothing to download, no rule to name
    except Exception:
        log.exception("screening list: the poll or the naming of entities failed")
        return None
    from bot.brief.watchlist import watch_alerts

    def match(tx: Transaction, stored: list[Item]) -> None:
        runtime.match_new_items(tx)

    def watch(tx: Transaction, named: list[Item]) -> None:
        tx.alerts.enqueue(watch_alerts(named, tx.watches.list(), now=runtime.clock()))

    report = None
    try:
        source = runtime.screening
        report = source.poll(
            runtime.config, runtime.store, network=runtime.network, within=match, force=force
        )
        if report is not None and report.error:
            log.warning("screening list: %s", report.error)
        source.resolve_entities(
            runtime.config, runtime.store, network=runtime.network, within=watch
        )
    except Exception:
        log.exception("screening list: the poll or the naming of entities failed")
    return report


def screening_status_row(runtime: Runtime) -> FeedStatusRow | None:
    """The screening list's health as a feed's row, or None when `screening_list:` is not set."""
    listed = runtime.config.screening_list
    if listed is None:
        return None
    from bot.ingest.screening.diff import FEED_ID
    from bot.ingest.screening.source import SCREENING_NAME
    from bot.render.inputs import FeedStatusRow

    snapshot = runtime.screening.snapshot()
    entries = len(snapshot.entries) if snapshot is not None else 0
    state = runtime.store.feed_states.get(FEED_ID)
    if state is not None and state.last_error:  # as the feeds' rows: never a credential
        state = replace(state, last_error=redact_text(state.last_error))
    return FeedStatusRow(FEED_ID, SCREENING_NAME, listed.enabled, state, entries)
