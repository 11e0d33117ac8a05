"""Three `briefbot run` replicas on one PostgreSQL database; the leader and a worker killed.

The replicas are real processes (`run_service`, HTTP mode, each on its own
port) sharing the test's database, the fake Slack and six loopback feeds.
Before they start, the database holds what a bot stopped two minutes ago
leaves: each feed's backlog and one rule polled since (alerts queued for
Alice, not yet sent), and two digest channels whose last digest was two days
ago (so every replica, starting, tries to send the missed one). Each feed
then gets one more rule, served slowly, for the replicas to poll.

Two SIGKILLs: the replica posting the first channel's digest, while the fake
Slack holds that post open; then, the other role (the leader if the first
was a worker, else a worker) while it is in the middle of a poll. Then what
a user would see: each item stored once, each rule alerted to Alice exactly
once, each channel's digest posted exactly once, the leadership on a live
replica (the `leadership` table), and a Slack event retried to another
replica handled once.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.config.schema import load_config
from bot.store.ports import DigestState
from bot.store.postgres.store import PgStore
from tests.app.test_service import Service, service_env, services, wait_for
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.slackhttp import sign
from tests.support.slackpayloads import home_opened

__all__ = ["services"]  # the fixture, from test_service

ALICE = "U0ALICE001"
FEEDS = [f"f{n}" for n in range(1, 7)]
DIGESTS = ["C0DIGEST01", "C0DIGEST02"]
LEASE_SECONDS = 3


def entries(feed: str, rounds: int) -> list[Entry]:
    """A feed's backlog (two notices) and `rounds` Entity List rules, newest first."""
    base = datetime.now(UTC) - timedelta(hours=1)
    found = [
        Entry(
            f"Additions to the Entity List ({feed}, rule {n})",
            f"https://example.org/{feed}/rule-{n}",
            guid=f"{feed}-rule-{n}",
            summary=f"BIS adds entities to the Entity List ({feed}, rule {n}).",
            published=base + timedelta(minutes=n),
        )
        for n in range(rounds, 0, -1)
    ]
    backlog = [
        Entry(
            f"Notice {n} of {feed}",
            f"https://example.org/{feed}/notice-{n}",
            guid=f"{feed}-notice-{n}",
            summary="A notice on export licensing.",
            published=base - timedelta(minutes=n),
        )
        for n in (1, 2)
    ]
    return found + backlog


def write_config(tmp_path: Path, feed_server: FeedServer) -> Path:
    doc: dict[str, Any] = {
        "settings": {
            "data_dir": str(tmp_path / "data"),
            "connect_timeout": 5,
            "read_timeout": 5,
            "total_timeout": 8,
        },
        "feeds": [
            {"id": feed, "url": feed_server.url(f"/{feed}.rss"), "interval": "1m"}
            | {"allow_private": True}
            for feed in FEEDS
        ],
        "topics": [{"id": "entity-list", "query": '"entity list"'}],
        "digests": [{"channel": c, "at": "00:00", "timezone": "UTC"} for c in DIGESTS],
    }
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def prepare(config_path: Path, feed_server: FeedServer, database_url: str) -> None:
    """Backlog polled three minutes ago, one rule per feed two minutes ago, Alice subscribed."""
    config = load_config(config_path, env={"BRIEFBOT_DATABASE_URL": database_url})
    now = datetime.now(UTC)
    for feed in FEEDS:
        feed_server.add(f"/{feed}.rss", make_rss(entries(feed, 0)))
    with Runtime.open(config, clock=lambda: now - timedelta(minutes=3)) as runtime:
        assert all(r.backlog and r.new_items == 2 for r in runtime.poll(force=True))
        with runtime.store.transaction() as tx:
            create_subscription(
                tx,
                owner=ALICE,
                created_by=ALICE,
                topic_or_query="entity-list",
                topics=runtime.topics(),
                now=now - timedelta(minutes=3),
            )
            for channel in DIGESTS:
                tx.digests.put(DigestState(channel, seq=0, last_sent=now - timedelta(days=2)))
    for feed in FEEDS:
        feed_server.add(f"/{feed}.rss", make_rss(entries(feed, 1)))
    with Runtime.open(config, clock=lambda: now - timedelta(minutes=2)) as runtime:
        assert all(r.new_items == 1 and not r.backlog for r in runtime.poll(force=True))
        assert runtime.store.alerts.pending_count() == len(FEEDS)


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql.encode()).fetchall()


def holder_pid(url: str, key: str) -> int | None:
    rows = query(
        url,
        f"SELECT leased_by FROM claims WHERE key = '{key}' AND lease_until > clock_timestamp()",
    )
    return int(str(rows[0][0]).split(":")[-2]) if rows and rows[0][0] else None


def leader_pid(url: str) -> int | None:
    rows = query(url, "SELECT replica FROM leadership ORDER BY term DESC LIMIT 1")
    return int(str(rows[0][0]).split(":")[-2]) if rows else None


def polling_pids(url: str) -> set[int]:
    rows = query(
        url,
        "SELECT leased_by FROM claims WHERE key LIKE 'poll:%'"
        " AND leased_by IS NOT NULL AND lease_until > clock_timestamp()",
    )
    return {int(str(row[0]).split(":")[-2]) for row in rows}


def dm_titles(fake_slack: FakeSlack) -> list[str]:
    shown = [json.dumps(m.blocks) if m.blocks else m.text for m in fake_slack.messages(f"D{ALICE}")]
    return [
        f"Additions to the Entity List ({feed}, rule {n})"
        for text in shown
        for feed in FEEDS
        for n in (1, 2)
        if f"Additions to the Entity List ({feed}, rule {n})" in text
    ]


def kill(service: Service, url: str) -> float | None:
    """SIGKILL `service`; if it led, the seconds until another replica leads."""
    pid = service.proc.pid
    led = leader_pid(url) == pid
    killed_at = time.monotonic()
    service.proc.send_signal(signal.SIGKILL)
    service.wait(10)
    if not led:
        return None
    while leader_pid(url) == pid:
        assert time.monotonic() - killed_at < 30, "no new leader within 30 s"
        time.sleep(0.01)
    return time.monotonic() - killed_at


def post_event(port: int, event: dict[str, Any]) -> int:
    body = json.dumps(event).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {**sign(body), "Content-Type": "application/json"}
        connection.request("POST", "/slack/events", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def http_port(service: Service) -> int:
    wait_for(lambda: "briefbot running" in service.output(), 60, "start-up", service)
    found = re.search(r"Slack HTTP mode on port (\d+)", service.output())
    assert found is not None, service.output()
    return int(found[1])


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_three_replicas_survive_the_leader_and_a_worker_killed_mid_poll_and_mid_digest(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    database_url: str,
    services: Callable[..., Service],
) -> None:
    for channel in DIGESTS:
        fake_slack.add_channel(channel)
    config_path = write_config(tmp_path, feed_server)
    prepare(config_path, feed_server, database_url)
    for feed in FEEDS:  # the rule the replicas poll, served slowly: polls last
        feed_server.add(f"/{feed}.rss", make_rss(entries(feed, 2)), delay=2.0)
    held = fake_slack.hold("chat.postMessage", channel=DIGESTS[0])
    env = service_env(fake_slack) | {
        "BRIEFBOT_DATABASE_URL": database_url,
        "BRIEFBOT_LEASE_SECONDS": str(LEASE_SECONDS),
        "BRIEFBOT_LEADER_CHECK_SECONDS": "0.2",
    }
    replicas = [services(config_path, env) for _ in range(3)]
    by_pid = {r.proc.pid: r for r in replicas}
    first = replicas[0]

    # Kill 1: whoever is posting the first channel's digest, while Slack holds the post.
    wait_for(lambda: held.held.is_set(), 60, "a digest post held at Slack", first)
    original_leader = leader_pid(database_url)
    digest_pid = holder_pid(database_url, f"digest:{DIGESTS[0]}")
    assert digest_pid in by_pid, (digest_pid, list(by_pid))
    failovers = [kill(by_pid[digest_pid], database_url)]
    held.release()  # the dead replica's message reaches the channel after all
    killed_leader_first = digest_pid == original_leader

    alive = [pid for pid in by_pid if pid != digest_pid]

    # A Slack event retried to another replica is handled once.
    home = home_opened(ALICE)
    assert post_event(http_port(by_pid[alive[0]]), home) == 200
    wait_for(lambda: fake_slack.calls("views.publish"), 30, "the Home tab", by_pid[alive[0]])
    assert post_event(http_port(by_pid[alive[1]]), home) == 200
    wait_for(
        lambda: "dropping a repeated Slack delivery" in by_pid[alive[1]].output(),
        30,
        "the retry dropped",
        by_pid[alive[1]],
    )

    # Kill 2: the other role, in the middle of a poll.

    def mid_poll_victim() -> int | None:
        leader = leader_pid(database_url)
        for pid in polling_pids(database_url) & set(alive):
            if (pid == leader) != killed_leader_first:
                return pid
        return None

    wait_for(mid_poll_victim, 150, "a mid-poll replica to kill", by_pid[alive[0]])
    poll_pid = mid_poll_victim()
    assert poll_pid is not None
    was_leader = poll_pid == leader_pid(database_url)
    failovers.append(kill(by_pid[poll_pid], database_url))
    survivor = by_pid[next(pid for pid in alive if pid != poll_pid)]
    assert killed_leader_first != was_leader  # the leader and a worker were killed

    wait_for(
        lambda: leader_pid(database_url) == survivor.proc.pid, 30, "the survivor leading", survivor
    )
    [failover] = [f for f in failovers if f is not None]
    expected_titles = sorted(
        f"Additions to the Entity List ({feed}, rule {n})" for feed in FEEDS for n in (1, 2)
    )
    wait_for(
        lambda: sorted(set(dm_titles(fake_slack))) == expected_titles,
        150,
        "every rule alerted",
        survivor,
    )
    wait_for(lambda: all(fake_slack.messages(c) for c in DIGESTS), 60, "both digests", survivor)

    time.sleep(3)  # anything repeated has time to arrive

    store = PgStore.open(database_url, read_only=True)
    try:
        stored = [(item.feed_id, item.id) for item in store.items.after()]
        titles = [item.title for item in store.items.after()]
    finally:
        store.close()
    assert len(stored) == len(set(stored)) == len(FEEDS) * 4, titles
    assert sorted(dm_titles(fake_slack)) == expected_titles  # each exactly once
    for channel in DIGESTS:
        assert len(fake_slack.messages(channel)) == 1, [
            m.text for m in fake_slack.messages(channel)
        ]
    terms = query(database_url, "SELECT replica FROM leadership ORDER BY term")
    assert len(terms) >= 2
    assert leader_pid(database_url) == survivor.proc.pid
    assert failover < LEASE_SECONDS + 5, f"failover took {failover:.1f} s"
    assert len(fake_slack.calls("views.publish")) == 1
    print(f"failover after the leader's kill: {failover:.2f} s; leadership terms: {len(terms)}")
