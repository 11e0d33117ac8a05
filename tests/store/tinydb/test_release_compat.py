"""A data directory written by release 0.1.0 opens unchanged and keeps everything.

tests/fixtures/release-0.1/data was written by that release's own code
(`make_data.py` there, run from a checkout of tag v0.1.0): item shards, a
tombstone file, feed states, subscriptions, the alert queue, digest ledgers,
an alert delivery in flight, overrides from Slack and an ops notice.
`polled/` holds what 0.1.0 stored when it polled `polled/feeds/` (written by
`polled/make_polled.py`, also with 0.1.0's code): those items must not come
back as new when the current code polls the same feeds, churned or not.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app.runtime import Runtime
from bot.config.overrides import effective_config, feeds_added_from_slack
from bot.config.schema import load_config, parse_config_text
from bot.models import Item, replace
from bot.store.tinydb.store import TinyStore
from tests.support import paths
from tests.support.feedserver import FeedServer

RELEASE = paths.FIXTURES / "release-0.1"
EXPECTED: dict[str, Any] = json.loads((RELEASE / "expected.json").read_text())
NOV = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(RELEASE / "data", copy)
    return copy


@pytest.fixture(params=["write", "read-only"])
def store(request: pytest.FixtureRequest, data: Path) -> TinyStore:
    opened = TinyStore.open(data, read_only=request.param == "read-only")
    request.addfinalizer(opened.close)
    return opened


def test_every_item_is_kept_with_its_seq_and_extras(store: TinyStore) -> None:
    kept = {item.id: item.seq for item in store.items.after()}
    assert kept == EXPECTED["items"]
    assert store.items.last_seq == EXPECTED["last_seq"]
    first: Item | None = store.items.get("fr-bis", "2026-nov-3")
    assert first is not None
    assert first.extras == {"entity_list": {"entities": 4, "destinations": {"China": 4}}}
    assert first.first_seen == NOV and not first.backlog
    backlog = store.items.get("fr-bis", "2026-back-0")
    assert backlog is not None and backlog.backlog


def test_duplicate_links_survive(store: TinyStore) -> None:
    item_id, primary_seq = EXPECTED["duplicate"]
    duplicate = store.items.get("news", item_id)
    assert duplicate is not None
    assert duplicate.extras["duplicate_of"] == primary_seq


def test_pruned_items_stay_known_by_their_tombstones(store: TinyStore) -> None:
    for item_id in EXPECTED["pruned"]:
        gone = Item(id=item_id, feed_id="fr-bis", title="", link_title_key=f"lt-{item_id}")
        assert store.items.get("fr-bis", item_id) is None
        assert store.items.is_known(gone)
    assert store.stats().tombstones == EXPECTED["pruned_count"]


def test_feed_states_subscriptions_and_cursors(store: TinyStore) -> None:
    states = store.feed_states.all()
    assert states["fr-bis"].etag == '"etag-bis"' and states["fr-bis"].first_poll_done
    assert states["flaky"].consecutive_failures == 9
    assert sorted(s.id for s in store.subscriptions.list()) == EXPECTED["subscriptions"]
    daily = [s for s in store.subscriptions.list() if s.owner == "C0CHANNEL1"]
    assert [(s.topic, s.mode, s.daily_at, s.timezone) for s in daily] == [
        ("ipef", "daily", "08:30", "Asia/Tokyo")
    ]
    assert store.alerts.match_cursor() == EXPECTED["match_cursor"]
    assert sorted(a.key for a in store.alerts.queued()) == EXPECTED["queued"]
    assert store.alerts.sent_keys() == set(EXPECTED["sent"])


def test_digest_ledgers_and_deliveries_in_flight(store: TinyStore) -> None:
    plain = store.digests.get("C0DIGEST01")
    assert plain is not None and plain.inflight is None and plain.partial is None
    assert plain.seq == EXPECTED["items"]["2026-back-2"]
    cut = store.digests.get("C0DIGEST02")
    assert cut is not None and cut.partial is not None
    assert (cut.partial.posted, cut.partial.ts, cut.partial.items) == (1, "1795337400.000100", 8)
    assert cut.partial.messages is not None
    assert [m.in_thread for m in cut.partial.messages] == [False, True]
    assert cut.partial.messages[0].blocks[0]["type"] == "header"
    [delivery] = store.alert_deliveries.all()
    assert (delivery.owner, delivery.channel, delivery.alert_keys) == (
        "U0ALICE001",
        "D0ALICE001",
        ("U0ALICE001:12",),
    )
    problem = store.delivery_problems.all()["C0DIGEST02"]
    assert "not_in_channel" in problem.error and problem.at == NOV
    notice = store.ops_notices.all()["flaky"]
    assert notice.notified_at == NOV


def test_changes_made_from_slack_still_apply(store: TinyStore) -> None:
    base = load_config(RELEASE / "feeds.yaml", env={})
    config = effective_config(base, store.overrides)
    assert [f.id for f in config.feeds] == ["fr-bis", "news", "flaky", "example-org-trade-feed"]
    news = config.feed("news")
    assert news is not None and not news.enabled
    digest = config.digest("C0DIGEST01")
    assert digest is not None and (f"{digest.at:%H:%M}", digest.timezone) == (
        "07:45",
        "Europe/Berlin",
    )
    assert feeds_added_from_slack(store.overrides) == {"example-org-trade-feed": "U0ADMIN001"}


def test_new_items_continue_after_the_old_seqs(data: Path) -> None:
    with TinyStore.open(data) as store:
        with store.transaction() as tx:
            [added] = tx.items.add([Item(id="fresh", feed_id="fr-bis", title="New")], now=NOV)
        assert added.seq == EXPECTED["last_seq"] + 1


def test_a_runtime_opens_it_and_finds_its_items(data: Path) -> None:
    config = load_config(RELEASE / "feeds.yaml", env={})
    config = replace(config, settings=replace(config.settings, data_dir=str(data)))
    with Runtime.open(config, read_only=True) as runtime:
        latest = {i.id for i in runtime.latest(limit=50)}
    # Duplicates are left out of `latest`, as in 0.1.0; backlog is listed since 0.2.
    assert latest == (
        {f"2026-nov-{n}" for n in range(8)}
        | {f"2026-news-{n}" for n in (1, 2, 3)}
        | {f"2026-back-{n}" for n in range(3)}
    )


# --- identity: feeds release 0.1.0 polled, polled again by the current code -----------

POLLED = RELEASE / "polled"
POLLED_EXPECTED: dict[str, dict[str, str]] = json.loads((POLLED / "expected.json").read_text())
# Entries 0.1.0 dropped because they shared a GUID with the first one: stored now.
LOST_TO_SHARED_GUIDS = ["Release 1", "Release 2"]


def _swap(body: bytes, one: bytes, other: bytes) -> bytes:
    return body.replace(one, b"\0").replace(other, one).replace(b"\0", other)


def _churned(name: str, body: bytes) -> bytes:
    """The document as a publisher might serve it on a later poll: the same entries."""
    if name == "wire":
        body = _swap(body, b"http://wire.example", b"https://wire.example")
        body = body.replace(b"/gallium/", b"/gallium").replace(b"licences/#", b"licences#")
        return body.replace(b"utm_source=rss", b"utm_source=mail")
    if name == "plain":
        body = _swap(body, b"http://forum.example", b"https://forum.example")
        body = body.replace(
            b"sid=3f2a9c0d4b5e6f708192a3b4c5d6e7f8", b"sid=9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
        )
        body = body.replace(b"utm_source=rss", b"utm_campaign=november")
        body = body.replace(b"search?b=2&amp;a=1", b"search?a=1&amp;b=2")
        body = body.replace(b"/posts/8/", b"/posts/8")
        body = body.replace(b"HTTP://Plain.Example:80/", b"https://plain.example:443/")
        # The entries without GUID or link get a new date on every request.
        return body.replace(b"04:00:00 GMT", b"04:07:00 GMT").replace(b"03:30:00", b"03:37:00")
    return body.replace(b"https://shared.example", b"http://shared.example")


@pytest.fixture
def polled(tmp_path: Path, feed_server: FeedServer) -> Iterator[Runtime]:
    """A runtime over a copy of the data 0.1.0 wrote when it polled polled/feeds/."""
    data = tmp_path / "data"
    shutil.copytree(POLLED / "data", data)
    feeds = "".join(
        f"  - id: {name}\n    url: {feed_server.url(f'/{name}.rss')}\n    allow_private: true\n"
        for name in POLLED_EXPECTED
    )
    text = f"settings:\n  data_dir: {data}\nfeeds:\n{feeds}"
    with Runtime.open(parse_config_text(text, "polled.yaml", env={})) as runtime:
        yield runtime


def _serve(feed_server: FeedServer, *, churned: bool) -> None:
    for name in POLLED_EXPECTED:
        body = (POLLED / "feeds" / f"{name}.rss").read_bytes()
        feed_server.add(f"/{name}.rss", _churned(name, body) if churned else body)


def _poll(runtime: Runtime) -> dict[str, list[str]]:
    """Poll every feed; the titles each stored."""
    before = runtime.store.items.last_seq
    reports = runtime.poll(force=True)
    assert all(r.status == "ok" for r in reports), reports
    stored: dict[str, list[str]] = {name: [] for name in POLLED_EXPECTED}
    for item in runtime.store.items.after(before):
        stored[item.feed_id].append(item.title)
    return {name: sorted(titles) for name, titles in stored.items()}


def test_release_0_1_items_are_not_new_again_when_their_feeds_are_polled_or_churn(
    polled: Runtime, feed_server: FeedServer
) -> None:
    kept: dict[str, dict[str, str]] = {name: {} for name in POLLED_EXPECTED}
    for item in polled.store.items.after():
        kept[item.feed_id][item.id] = item.title
    assert kept == POLLED_EXPECTED

    _serve(feed_server, churned=False)
    assert _poll(polled) == {"plain": [], "shared": LOST_TO_SHARED_GUIDS, "wire": []}
    # Seen again, they are known by their current identity too: churn stores nothing.
    _serve(feed_server, churned=True)
    assert _poll(polled) == {"plain": [], "shared": [], "wire": []}
    _serve(feed_server, churned=False)
    assert _poll(polled) == {"plain": [], "shared": [], "wire": []}
    assert polled.store.items.count() == sum(map(len, POLLED_EXPECTED.values())) + 2


def test_churn_seen_first_brings_back_only_what_release_0_1_identity_cannot_undo(
    polled: Runtime, feed_server: FeedServer
) -> None:
    """A flipped scheme or slash and new tracking parameters are undone; a new session id,
    parameter order or date is not.

    0.1.0 kept those in an entry's identity: when the first poll after the
    upgrade already sees them changed, those entries come back once (as they
    would have under 0.1.0), and never again.
    """
    _serve(feed_server, churned=True)
    again = [
        "Forum: licence delays for small exporters",
        "Maintenance window",
        "Outage notice",
        "Search results, parameters in some order",
    ]
    assert _poll(polled) == {"plain": again, "shared": LOST_TO_SHARED_GUIDS, "wire": []}
    _serve(feed_server, churned=False)
    assert _poll(polled) == {"plain": [], "shared": [], "wire": []}
