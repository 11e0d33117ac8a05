"""The Consolidated Screening List as a source, and the named entities of Entity List rules.

`ScreeningSource.poll` downloads the list when `screening_list:` is set and its
interval has passed, through the feeds' fetcher (bot/ingest/fetch: conditional
GET with the stored ETag / Last-Modified, the private-address guard, redirects
checked hop by hop), reads it (csl.py), compares it with the previous download
(diff.py) and stores each addition, removal and change as an item of the feed
"screening-list" in one transaction, with the list's feed state and the
caller's `within` (matching: subscriptions and watches see the items). The
first download only becomes the snapshot: ten thousand "added" items would be
noise.

The snapshot (every entry of the last download, about 5 MB for the whole list)
is kept out of the store's state.json, which every commit rewrites: it is its
own file, `screening-list.json` in the data directory (`FileSnapshot`), or on
PostgreSQL a row of the database that every replica reads
(bot/store/postgres/snapshots.py; a `SnapshotPlace` given by the app),
replaced AFTER the transaction that stored the changes. A crash in between leaves the
old snapshot beside a feed state that already holds the new download's ETag /
Last-Modified, so a conditional request would be answered 304 until the list
next changes, with the old snapshot in use meanwhile. The snapshot therefore
keeps the validators of the download it holds, and the list is asked for
conditionally only when they are the stored state's: after such a crash (or
with the file deleted) the next poll downloads the list whole, computes the
same changes again, which are the same items (diff.py) and are not stored
twice, and writes the snapshot (tests/ingest/screening/test_source_crash.py).

`ScreeningSource.resolve_entities` gives Entity List rules their names: for
each recent item with `extras["entity_list"]` and a Federal Register citation
(`extras["federal_register"]`, bot/ingest/fedreg/facts.py) but no
`extras["entities"]`, the snapshot's rows citing the rule, else the entities of
the rule's own XML (`full_text_xml_url`, fetched by the same fetcher). An XML
that names nobody is recorded as such and not fetched again; a failed fetch is
tried again at the next poll.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.config.model import Config, ScreeningListConfig
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.ingest.feedstate import is_due, next_feed_state
from bot.ingest.screening.csl import ScreeningEntry, ScreeningListError, parse_screening_list
from bot.ingest.screening.diff import FEED_ID, change_item, diff_lists
from bot.ingest.screening.entities import EXTRAS_KEY, RuleEntities, from_rule_xml
from bot.ingest.screening.entities import from_screening_list as entities_in_list
from bot.ingest.screening.frxml import entities_from_rule_xml
from bot.ingest.screening.pending import unnamed_rules
from bot.models import FeedConfig, FetchResult, Item
from bot.store.ports import Store, Transaction

if TYPE_CHECKING:  # the fetcher is loaded by a download, not by importing this module
    from bot.ingest.fetch.client import Network

__all__ = [
    "SCREENING_NAME",
    "SNAPSHOT_FILE",
    "FileSnapshot",
    "ScreeningReport",
    "ScreeningSource",
    "Snapshot",
    "SnapshotPlace",
]

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "screening-list.json"
#: How the list is named where feeds are (`/brief status`).
SCREENING_NAME = "Consolidated Screening List"
#: The whole list is about 10 MB as CSV, more as JSON.
MAX_BYTES = 64 * 1024 * 1024
Within = Callable[[Transaction, list[Item]], None]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The entries of the last download, and when it was read."""

    entries: tuple[ScreeningEntry, ...]
    fetched_at: str
    # The validators of the download it holds (None in a file written before they were kept).
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class ScreeningReport:
    """What one poll of the list did."""

    status: str  # "ok", "first", "not-modified", "error", "not-due"
    added: int = 0
    removed: int = 0
    changed: int = 0
    entries: int = 0
    error: str | None = None


class SnapshotPlace(Protocol):
    """Where the snapshot's JSON is kept: a file, or the database."""

    def stamp(self) -> object | None:
        """Changes whenever the snapshot is replaced; None when there is none."""
        ...

    def read(self) -> bytes | None: ...

    def write(self, data: bytes) -> None: ...


class FileSnapshot:
    """`screening-list.json` in the data directory, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def stamp(self) -> object | None:
        try:
            return self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.path)


class ScreeningSource:
    """The list's download, snapshot and the entity names it gives; one per runtime."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        clock: Callable[[], datetime],
        place: SnapshotPlace | None = None,
    ) -> None:
        self.path = Path(data_dir) / SNAPSHOT_FILE
        self.place: SnapshotPlace = FileSnapshot(self.path) if place is None else place
        self.clock = clock
        self._cached: Snapshot | None = None
        self._cached_stamp: object | None = None

    # ------------------------------------------------------------------ snapshot

    def snapshot(self) -> Snapshot | None:
        """The last download's entries (read again only when it was replaced), or None."""
        stamp = self.place.stamp()
        if stamp is None:
            return None
        if self._cached is None or stamp != self._cached_stamp:
            raw = self.place.read()
            if raw is None:
                return None
            data = json.loads(raw)
            entries = tuple(ScreeningEntry.from_dict(e) for e in data["entries"])
            validators = (_text(data.get("etag")), _text(data.get("last_modified")))
            self._cached = Snapshot(entries, str(data["fetched_at"]), *validators)
            self._cached_stamp = stamp
        return self._cached

    def _save(self, entries: Sequence[ScreeningEntry], now: datetime, result: FetchResult) -> None:
        payload = {
            "fetched_at": now.isoformat(),
            "etag": result.etag,
            "last_modified": result.last_modified,
            "entries": [e.as_dict() for e in entries],
        }
        self.place.write(json.dumps(payload, ensure_ascii=False).encode())

    # ------------------------------------------------------------------ polling

    def poll(
        self,
        config: Config,
        store: Store,
        *,
        network: Network,
        within: Within | None = None,
        force: bool = False,
    ) -> ScreeningReport | None:
        """Download and diff the list when due (see the module docstring); None if not set."""
        listed = config.screening_list
        if listed is None or not listed.enabled:
            return None
        feed = _as_feed(listed)
        state = store.feed_states.get(FEED_ID)
        now = self.clock()
        if not force and not is_due(state, now):
            return ScreeningReport("not-due")
        # Conditional only when the snapshot is the download the state's validators name.
        snapshot = self.snapshot()
        held = (snapshot.etag, snapshot.last_modified) if snapshot is not None else None
        current = state is not None and held == (state.etag, state.last_modified)
        states = {FEED_ID: state} if state is not None and current else {}
        settings = replace(config.settings, max_bytes=max(config.settings.max_bytes, MAX_BYTES))
        from bot.ingest.fetch.client import fetch_feeds

        [result] = fetch_feeds(
            [feed], states, settings, resolver=network.resolver, policy=network.policy
        )
        report, entries, items = self._read(result)
        with store.transaction() as tx:
            stored = tx.items.add(items, now=now) if items else []
            tx.feed_states.put(
                next_feed_state(
                    tx.feed_states.get(FEED_ID),
                    feed,
                    result,
                    now=now,
                    settings=config.settings,
                    parse_error=report.error if result.ok else None,
                    new_items=len(stored),
                )
            )
            if within is not None:
                within(tx, stored)
        if entries is not None:
            self._save(entries, now, result)
        return report

    def _read(
        self, result: FetchResult
    ) -> tuple[ScreeningReport, tuple[ScreeningEntry, ...] | None, list[Item]]:
        """(report, entries to save as the snapshot, change items) of one download."""
        if not result.ok:
            return ScreeningReport("error", error=result.error), None, []
        if result.not_modified:
            return ScreeningReport("not-modified"), None, []
        try:
            listed = parse_screening_list(result.body)
        except ScreeningListError as err:
            return ScreeningReport("error", error=str(err)), None, []
        previous = self.snapshot()
        count = len(listed.entries)
        if previous is None:
            return ScreeningReport("first", entries=count), listed.entries, []
        changes = diff_lists(previous.entries, listed.entries)
        kinds = [c.kind for c in changes]
        report = ScreeningReport(
            "ok",
            added=kinds.count("added"),
            removed=kinds.count("removed"),
            changed=kinds.count("changed"),
            entries=count,
        )
        return report, listed.entries, [change_item(c) for c in changes]

    # ------------------------------------------------------------------ entity names

    def resolve_entities(
        self, config: Config, store: Store, *, network: Network, within: Within | None = None
    ) -> int:
        """Give recent Entity List rules their named entities; return how many were named."""
        pending = unnamed_rules(store.items)
        if not pending:
            return 0
        snapshot = self.snapshot()
        found: list[tuple[Item, RuleEntities]] = []
        for item, facts in pending:
            named = entities_in_list(facts.citation, snapshot.entries) if snapshot else None
            if named is None and facts.full_text_xml_url:
                named = _from_xml(config, facts, network)
            if named is not None:
                found.append((item, named))
        if not found:
            return 0
        with store.transaction() as tx:
            updated = []
            for item, named in found:
                extras: dict[str, Any] = {EXTRAS_KEY: named.as_extras()}
                tx.items.update_extras(item.feed_id, item.id, extras)
                updated.append(replace(item, extras={**item.extras, **extras}))
            if within is not None:
                within(tx, updated)
        return sum(1 for _, named in found if named.entities)


def _as_feed(listed: ScreeningListConfig) -> FeedConfig:
    return FeedConfig(
        id=FEED_ID,
        url=listed.url,
        name=SCREENING_NAME,
        interval_seconds=listed.interval_seconds,
        allow_private=listed.allow_private,
        allow_addresses=listed.allow_addresses,
    )


def _from_xml(config: Config, facts: FederalRegisterFacts, network: Network) -> RuleEntities | None:
    """The entities of the rule's own XML; an empty record when it names none; None on failure."""
    from bot.ingest.fetch.client import fetch_feeds

    feed = FeedConfig(id=f"fr-xml-{facts.document_number}", url=facts.full_text_xml_url)
    [result] = fetch_feeds(
        [feed], {}, config.settings, resolver=network.resolver, policy=network.policy
    )
    if not result.ok:
        log.warning("rule %s: its XML could not be fetched: %s", facts.citation, result.error)
        return None
    try:
        named = entities_from_rule_xml(result.body)
    except ValueError as err:
        log.warning("rule %s: its XML could not be read: %s", facts.citation, err)
        named = []
    return from_rule_xml(facts.citation, named) or RuleEntities(
        facts.citation, "federal-register-xml", ()
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
