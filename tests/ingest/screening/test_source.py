"""The screening list's snapshot on PostgreSQL: in the database, shared by the replicas.

Two runtimes on one database, each with a data directory of its own (replicas
on two machines). The first polls the list served on loopback; the second,
which never downloaded it, must see the same snapshot and store only what
changed at the next download, not take it for a first download.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.config.schema import parse_config_text
from bot.ingest.screening.diff import FEED_ID
from bot.ingest.screening.source import SNAPSHOT_FILE
from bot.store.postgres.store import PgStore
from tests.ingest.screening.test_source_crash import EXPECTED, SAMPLE, _changed
from tests.support.feedserver import FeedServer


@pytest.fixture
def replicas(
    database_url: str, feed_server: FeedServer, tmp_path: Path
) -> Iterator[tuple[Runtime, Runtime]]:
    runtimes = []
    for name in ("a", "b"):
        text = (
            f"settings:\n  data_dir: {tmp_path / name}\nfeeds: []\n"
            f"screening_list:\n  url: {feed_server.url('/csl.csv')}\n  allow_private: true\n"
        )
        config = parse_config_text(text, "feeds.yaml", env={})
        runtimes.append(Runtime(config, PgStore.open(database_url)))
    yield runtimes[0], runtimes[1]
    for runtime in runtimes:
        runtime.close()


def test_the_replicas_share_one_snapshot_in_the_database(
    replicas: tuple[Runtime, Runtime], feed_server: FeedServer, tmp_path: Path
) -> None:
    one, two = replicas
    feed_server.add("/csl.csv", SAMPLE.read_bytes(), etag='"v1"', content_type="text/csv")
    first = one.poll_screening_list(force=True)
    assert first is not None and first.status == "first"
    seen = two.screening.snapshot()
    assert seen is not None and "Atlas Sanatgaran" in {e.name for e in seen.entries}
    assert not (tmp_path / "a" / SNAPSHOT_FILE).exists()

    feed_server.add("/csl.csv", _changed(SAMPLE.read_bytes()), etag='"v2"', content_type="text/csv")
    second = two.poll_screening_list(force=True)
    assert second is not None and (second.status, second.added, second.removed) == ("ok", 1, 1)
    assert sorted(i.title for i in one.store.items.after(feed_ids=[FEED_ID])) == EXPECTED
    # Replica one sees replica two's newer snapshot: its next poll asks conditionally.
    again = one.poll_screening_list(force=True)
    assert again is not None and again.status == "not-modified"
    assert feed_server.requests("/csl.csv")[-1].header("If-None-Match") == '"v2"'
    assert not (tmp_path / "b" / SNAPSHOT_FILE).exists()
