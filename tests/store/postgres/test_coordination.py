"""`PgCoordination` against a real PostgreSQL: claims, leases, the leader, fencing, Slack keys.

Each "replica" here is a `PgStore` and a `PgCoordination` of its own on the
test's database, as two `briefbot run` processes would have. A replica's
death is its leader session ended by the server (`pg_terminate_backend`),
which is what the server does when the process is killed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from bot.store.ports import DigestState, LeaseLost
from bot.store.postgres.coordination import PgCoordination
from bot.store.postgres.store import PgStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Replica = Callable[..., PgCoordination]


@pytest.fixture
def replica(database_url: str) -> Iterator[Replica]:
    opened: list[tuple[PgStore, PgCoordination]] = []

    def make(*, lease: float = 30.0, check: float = 0.1, start: bool = False) -> PgCoordination:
        store = PgStore.open(database_url)
        coordination = PgCoordination(store, database_url, lease_seconds=lease, check_every=check)
        opened.append((store, coordination))
        if start:
            coordination.start()
        return coordination

    yield make
    for store, coordination in opened:
        coordination.close()
        store.close()


def store_of(coordination: PgCoordination) -> PgStore:
    store = coordination._store  # the store it was made with
    return store


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took for `condition` to hold; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.01)
    return time.monotonic() - start


def test_four_replicas_claiming_the_same_work_each_key_goes_to_exactly_one(
    replica: Replica,
) -> None:
    workers = [replica() for _ in range(4)]
    keys = [f"poll:feed{n}" for n in range(200)]
    won: dict[str, list[str]] = {key: [] for key in keys}
    guard = threading.Lock()
    go = threading.Barrier(len(workers))

    def claim_all(worker: PgCoordination) -> None:
        go.wait()
        for key in keys:
            if worker.claim(key):
                with guard:
                    won[key].append(worker.replica)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(len(owners) == 1 for owners in won.values()), {
        k: v for k, v in won.items() if len(v) != 1
    }
    # Held means held: nobody else gets a key until its holder lets it go.
    key = keys[0]
    [holder] = [w for w in workers if w.replica == won[key][0]]
    other = next(w for w in workers if w is not holder)
    assert not other.claim(key)
    holder.release(key)
    assert other.claim(key)


def test_a_claim_is_reentrant_on_its_thread_and_released_by_the_last_hold(
    replica: Replica,
) -> None:
    one, other = replica(), replica()
    assert one.claim("digest:C1")
    assert one.claim("digest:C1")
    one.release("digest:C1")
    assert not other.claim("digest:C1")
    one.release("digest:C1")
    assert other.claim("digest:C1")


def test_a_dead_replicas_lease_runs_out_and_its_late_commit_is_refused(
    replica: Replica,
) -> None:
    stalled, other = replica(lease=0.5), replica(lease=30)
    assert stalled.claim("digest:C1")
    assert not other.claim("digest:C1")
    # The stalled replica renews nothing (as if frozen); its lease runs out.
    wait_until(lambda: other.claim("digest:C1"), 5, "takeover of the expired lease")

    with pytest.raises(LeaseLost, match=r"digest:C1"), store_of(stalled).transaction() as tx:
        tx.digests.put(DigestState(channel="C1", seq=99, last_sent=NOW))
    assert store_of(other).digests.get("C1") is None  # rolled back

    with store_of(other).transaction() as tx:  # the new holder commits
        tx.digests.put(DigestState(channel="C1", seq=5, last_sent=NOW))
    assert store_of(other).digests.get("C1") == DigestState(channel="C1", seq=5, last_sent=NOW)


def test_renewal_keeps_a_working_replicas_lease(replica: Replica) -> None:
    worker, other = replica(lease=0.6, check=0.05, start=True), replica()
    assert worker.claim("alerts:U1")
    time.sleep(1.5)  # more than two leases: renewed meanwhile by the background check
    assert not other.claim("alerts:U1")
    with store_of(worker).transaction() as tx:
        tx.digests.put(DigestState(channel="C2", seq=1, last_sent=NOW))
    assert store_of(other).digests.get("C2") is not None


def _leaders(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT replica FROM leadership ORDER BY term").fetchall()
    return [str(row[0]) for row in rows]


def test_one_leader_and_failover_when_its_session_dies(replica: Replica, database_url: str) -> None:
    first = replica(check=0.05, start=True)
    second = replica(check=0.05, start=True)
    assert first.is_leader() and not second.is_leader()
    time.sleep(0.3)
    assert not second.is_leader()  # it keeps trying, and keeps failing

    pid = first._leader_pid
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    took = wait_until(second.is_leader, 5, "new leader")

    assert took < 1.0, f"failover took {took:.2f} s"
    assert _leaders(database_url) == [first.replica, second.replica]
    # The old leader notices at its next check, and a late leader's commit is refused.
    wait_until(lambda: not first.is_leader(), 5, "the old leader stepping down")
    first._leading.set()  # as if its check had not run yet
    first._leader_pid = pid
    with (
        pytest.raises(LeaseLost, match="no longer the leader"),
        first.leading() as leader,
        store_of(first).transaction() as tx,
    ):
        assert leader
        tx.digests.put(DigestState(channel="C3", seq=1, last_sent=NOW))
    assert store_of(second).digests.get("C3") is None


def test_a_slack_delivery_is_taken_by_one_replica_only(replica: Replica) -> None:
    one, other = replica(), replica()
    assert one.first_sight("event:Ev01")
    assert not other.first_sight("event:Ev01")
    assert not one.first_sight("event:Ev01")
    assert other.first_sight("trigger:T1")


def test_closing_gives_back_leases_and_leadership(replica: Replica) -> None:
    first = replica(check=0.05, start=True)
    second = replica(check=0.05, start=True)
    assert first.claim("poll:fr")
    first.close()
    assert second.claim("poll:fr")
    wait_until(second.is_leader, 5, "the leadership handed on")
