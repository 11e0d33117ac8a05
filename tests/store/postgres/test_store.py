"""`PgStore`'s transactions on a real PostgreSQL: which ones take turns across replicas, and why.

Each "replica" is a `PgStore` of its own on the test's database, as two
`briefbot run` processes would have. One transaction is held open in a thread
while the other replica works: a transaction blocked by it shows as a
backend waiting on a lock in `pg_stat_activity`, which the tests wait for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest

from bot.models import Alert, Item
from bot.store.ports import Heartbeat, StoreError
from bot.store.postgres.store import PgStore, PgTransaction
from tests.support.postgres import PostgresServer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Work = Callable[[PgTransaction], object]


@pytest.fixture
def replicas(database_url: str) -> Iterator[tuple[PgStore, PgStore]]:
    with PgStore.open(database_url) as one, PgStore.open(database_url) as two:
        yield one, two


def alert(owner: str, seq: int) -> Alert:
    return Alert(owner=owner, item_seq=seq, subscription_ids=("s1",), created_at=NOW, due_at=NOW)


@dataclass
class Held:
    """A transaction that did its work and stays open until `release()`."""

    store: PgStore
    work: Work
    done: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)

    def start(self) -> Held:
        threading.Thread(target=self._run, daemon=True).start()
        assert self.done.wait(10), "the held transaction did not do its work"
        return self

    def _run(self) -> None:
        try:
            with self.store.transaction() as tx:
                self.work(tx)
                self.done.set()
                self.go.wait(10)
        except BaseException as exc:
            self.errors.append(exc)
            self.done.set()

    def release(self) -> None:
        self.go.set()


def in_thread(store: PgStore, work: Work) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        with store.transaction() as tx:
            out.append(work(tx))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def waiting_on_a_lock(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def wait_for_a_waiter(url: str) -> None:
    deadline = time.monotonic() + 10
    while waiting_on_a_lock(url) == 0:
        assert time.monotonic() < deadline, "the second transaction never waited for a lock"
        time.sleep(0.01)


def queued_keys(store: PgStore, owner: str) -> list[str]:
    return sorted(a.key for a in store.alerts.due(NOW, owner=owner).get(owner, []))


def test_two_replicas_write_different_records_side_by_side(
    replicas: tuple[PgStore, PgStore],
) -> None:
    one, two = replicas
    held = Held(one, lambda tx: tx.alerts.enqueue([alert("U1", 1)])).start()
    thread, _ = in_thread(two, lambda tx: tx.alerts.enqueue([alert("U2", 2)]))
    thread.join(5)
    finished_while_held = not thread.is_alive()
    held.release()
    thread.join(10)
    assert finished_while_held, "replica two's record write waited for replica one's"
    assert not held.errors
    assert queued_keys(one, "U1") == ["U1:1"] and queued_keys(one, "U2") == ["U2:2"]


def test_the_same_record_from_two_replicas_loses_no_update(
    replicas: tuple[PgStore, PgStore], database_url: str
) -> None:
    one, two = replicas
    # U3 has no queue yet: there is no row to lock, the key's lock serves.
    held = Held(one, lambda tx: tx.alerts.enqueue([alert("U3", 1)])).start()
    thread, _ = in_thread(two, lambda tx: tx.alerts.enqueue([alert("U3", 2)]))
    wait_for_a_waiter(database_url)
    held.release()
    thread.join(10)
    assert not held.errors and not thread.is_alive()
    assert queued_keys(one, "U3") == ["U3:1", "U3:2"]

    # Now the row exists: delivery on one replica, a new alert on the other.
    held = Held(one, lambda tx: tx.alerts.mark_delivered(["U3:1"], now=NOW)).start()
    thread, _ = in_thread(two, lambda tx: tx.alerts.enqueue([alert("U3", 3)]))
    wait_for_a_waiter(database_url)
    held.release()
    thread.join(10)
    assert queued_keys(two, "U3") == ["U3:2", "U3:3"]


def test_item_writers_still_take_turns_and_store_an_item_once(
    replicas: tuple[PgStore, PgStore], database_url: str
) -> None:
    one, two = replicas
    entry = Item(id="guid-1", feed_id="f", title="Export controls")
    held = Held(one, lambda tx: tx.items.add([entry], now=NOW)).start()
    thread, added = in_thread(two, lambda tx: tx.items.add([entry], now=NOW))
    wait_for_a_waiter(database_url)
    held.release()
    thread.join(10)
    assert added == [[]]
    assert [(i.id, i.seq) for i in one.items.after()] == [("guid-1", 1)]


def replica_beat(store_name: str, at: datetime, *, leader: bool) -> Heartbeat:
    return Heartbeat(
        at=at,
        pid=4242,
        slack_mode="http",
        slack_ok=True,
        replica=f"{store_name}:4242:ab",
        host=store_name,
        leader=leader,
    )


def test_each_replica_keeps_its_own_heartbeat(replicas: tuple[PgStore, PgStore]) -> None:
    one, two = replicas
    one.beat(replica_beat("web-a", NOW, leader=True))
    two.beat(replica_beat("web-b", NOW + timedelta(seconds=20), leader=False))
    one.beat(replica_beat("web-a", NOW + timedelta(seconds=30), leader=True))
    assert two.heartbeats() == [
        replica_beat("web-a", NOW + timedelta(seconds=30), leader=True),
        replica_beat("web-b", NOW + timedelta(seconds=20), leader=False),
    ]
    assert one.last_heartbeat() == replica_beat("web-a", NOW + timedelta(seconds=30), leader=True)
    # A replica silent for more than a day is forgotten at the next beat.
    one.beat(replica_beat("web-a", NOW + timedelta(days=1, seconds=25), leader=True))
    assert [b.replica for b in two.heartbeats()] == ["web-a:4242:ab"]


def advisory_locks(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2"
        ).fetchone()
    return int(row[0]) if row else 0


def test_known_records_take_row_locks_only(
    replicas: tuple[PgStore, PgStore], database_url: str
) -> None:
    # Advisory locks fill the server's shared lock table (64 a connection by default):
    # a poll of thousands of known feeds must not take one per feed.
    one, _ = replicas
    with one.transaction() as tx:
        tx.alerts.enqueue([alert(f"U{n}", n) for n in range(1, 6)])
    seen: list[int] = []

    def work(tx: PgTransaction) -> None:
        tx.alerts.enqueue([alert(f"U{n}", 10 + n) for n in range(1, 6)])  # five known queues
        seen.append(advisory_locks(database_url))
        tx.alerts.enqueue([alert("U9", 20)])  # a new one: a key lock
        seen.append(advisory_locks(database_url))

    held = Held(one, work).start()
    held.release()
    assert seen == [0, 1]
    assert queued_keys(one, "U3") == ["U3:13", "U3:3"]


def test_a_read_during_a_database_outage_is_a_store_error_naming_the_server(
    postgres_server: PostgresServer,
) -> None:
    """An outage met outside a unit of work: a clear StoreError, as a failed commit gives."""
    url = postgres_server.database()
    name = url.rsplit("/", 1)[1]
    try:
        with PgStore.open(url) as store:
            assert store.items.count() == 0
            # The outage: no new connections, and the pool's open ones cut.
            with psycopg.connect(postgres_server.url, autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            with pytest.raises(StoreError) as raised:
                store.items.count()
            message = str(raised.value)
            assert message.startswith("the database postgresql://postgres@127.0.0.1:")
            assert f"/{name}: " in message
            assert "terminat" in message or "closed" in message or "connection" in message
            password = urlsplit(url).password
            assert password and password not in message
    finally:
        postgres_server.drop(url)
