"""Tracked Federal Register documents: as written, after a restart, rolled back with their
transaction, due in order, deleted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.models import replace
from bot.store.ports import TrackedDocument
from tests.store.contract.conftest import Stores

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


class Boom(Exception):
    pass


def _doc(number: str, minutes: int = 0) -> TrackedDocument:
    return TrackedDocument(
        document_number=number,
        items=(("fr-bis", f"id-{number}"), ("fr-entity-list", f"id2-{number}")),
        next_attempt=NOW + timedelta(minutes=minutes),
    )


def test_tracked_documents_round_trip_and_come_due_in_order(stores: Stores) -> None:
    store = stores.open()
    late = replace(_doc("2026-00002", 30), attempts=2, last_error="HTTP 500", etag='"e1"')
    early = replace(_doc("2026-00001", -5), enriched=True, last_modified="Tue, 1 Dec 2026")
    early = replace(early, api_dates=(None, date(2026, 12, 3)))
    with store.transaction() as tx:
        tx.fr_documents.put(late)
        tx.fr_documents.put(early)
        assert tx.fr_documents.get("2026-00002") == late
    assert store.fr_documents.all() == [early, late]
    assert store.fr_documents.due(NOW, limit=10) == [early]
    assert store.fr_documents.due(NOW + timedelta(hours=1), limit=1) == [early]
    store = stores.reopen(store)
    assert store.fr_documents.get("2026-00002") == late
    with pytest.raises(Boom), store.transaction() as tx:
        tx.fr_documents.delete("2026-00001")
        raise Boom
    assert store.fr_documents.get("2026-00001") == early
    with store.transaction() as tx:
        tx.fr_documents.delete("2026-00001")
        tx.fr_documents.delete("never-there")
    assert [d.document_number for d in store.fr_documents.all()] == ["2026-00002"]
