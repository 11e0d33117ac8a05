"""Which search index a runtime uses where no index file can be kept in a data directory.

About the data directory's index file, so on TinyDB only (PostgreSQL searches in the
database: tests/app/commands/test_search.py runs the read-only case on both).
"""

from __future__ import annotations

import gc
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.models import Item
from bot.store.tinydb.store import TinyStore
from tests.app.commands.cases import make_config

NOW = datetime.now(UTC).replace(microsecond=0)


def test_a_runtime_made_on_a_store_alone_searches_a_temporary_index(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No data directory given: the items are indexed into a temporary file, logged as
    such, and the file is removed once the runtime is gone."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    data = tmp_path / "data"
    config = make_config(data, {"trade": "https://example.org/trade.xml"})
    store = TinyStore.open(data)
    with store.transaction() as tx:
        tx.items.add(
            [
                Item(
                    id="g", feed_id="trade", title="Gallium export curbs", summary="", published=NOW
                )
            ],
            now=NOW,
        )
    with caplog.at_level(logging.INFO, logger="bot.app.searchindex"), Runtime(config, store) as rt:
        results = rt.search("gallium")
        assert [hit.item.title for hit in results.hits] == ["Gallium export curbs"]
        assert results.complete
        [made] = temporary.iterdir()
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.app.searchindex"]
    assert line.startswith("search index: no data directory to keep it in; indexing the stored")
    assert str(made) in line
    assert not (data / "search.sqlite").exists()
    del rt
    gc.collect()
    assert list(temporary.iterdir()) == [], "the temporary index is removed with the runtime"
