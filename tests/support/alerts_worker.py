"""A separate process for the alert queue's crash test (tests/store/tinydb/test_alertqueue.py).

    alerts_worker.py run DATA SEED   forever: in one transaction, store a batch of items,
                                     match them, enqueue the alerts, advance the match
                                     cursor and record the round, then print
                                     "committed <round> <cursor>"; then deliver a random
                                     part of the due alerts in a second transaction, print
                                     "delivered <count>"
    alerts_worker.py drain DATA      match what is left, deliver everything, print
                                     "drained <cursor>"

It works like the pipeline: items are matched from the store (seq > cursor),
not from what this process added, so a round cut short by a kill is finished
by the next run. The round number is kept in the store, in the feed's state
(ETag "r<round>"), committed with the rest; a round redone after a kill
regenerates the same items, which the store deduplicates.

Which owner an item concerns follows from the words in its title,
so the test can say what to expect without running the matcher.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, so make `tests.` and `bot.` importable like under pytest.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.brief.match import SubscriptionMatcher
from bot.brief.subscriptions import create_subscription
from bot.config.model import TopicConfig
from bot.models import FeedState, Item
from bot.store.ports import Store, Transaction
from bot.store.tinydb.store import TinyStore

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
# Hourly alerts made at NOW are due by then.
DELIVERY_TIME = NOW + timedelta(hours=2)
TOPICS = {"entity-list": TopicConfig(id="entity-list", query='"entity list"')}
# (owner, what they subscribe to, mode)
SUBSCRIPTIONS = [
    ("U0ALPHA001", "alpha", "immediate"),
    ("U0ALPHA001", "alpha OR gamma", "immediate"),
    ("U0BETA0001", "beta", "hourly"),
    ("C0LISTS001", "entity-list", "immediate"),
]
BATCH_MAX = 30
FEED = "fr-bis"


def title_of(round_no: int, n: int) -> str:
    words = [f"Notice {round_no}-{n}"]
    if n % 2 == 0:
        words.append("alpha")
    if n % 3 == 0:
        words.append("beta")
    if n % 5 == 0:
        words.append("gamma")
    if n % 7 == 0:
        words.append("update to the Entity List")
    return " ".join(words)


def make_batch(round_no: int) -> list[Item]:
    size = random.Random(round_no).randint(1, BATCH_MAX)
    return [
        Item(id=f"r{round_no}-{n}", feed_id=FEED, title=title_of(round_no, n)) for n in range(size)
    ]


def ensure_subscriptions(store: Store) -> None:
    if store.subscriptions.list():
        return
    with store.transaction() as tx:
        for owner, text, mode in SUBSCRIPTIONS:
            create_subscription(
                tx,
                owner=owner,
                created_by=owner,
                topic_or_query=text,
                topics=TOPICS,
                mode=mode,
                now=NOW,
            )


def rounds_done(store: Store) -> int:
    """The last round committed (kept in the feed's state), 0 before any."""
    state = store.feed_states.get(FEED)
    return int(state.etag[1:]) if state is not None and state.etag else 0


def match_new(tx: Transaction) -> int:
    """Match items past the cursor, enqueue, advance the cursor, all in `tx`; the new cursor."""
    matcher = SubscriptionMatcher(tx.subscriptions.list(), TOPICS)
    items = list(tx.items.after(tx.alerts.match_cursor()))
    tx.alerts.enqueue(matcher.match(items, now=NOW))
    cursor = tx.items.last_seq
    tx.alerts.set_match_cursor(cursor)
    return cursor


def due_keys(store: Store) -> list[str]:
    return [a.key for alerts in store.alerts.due(DELIVERY_TIME).values() for a in alerts]


def run(data: str, seed: int) -> None:
    rng = random.Random(seed)
    with TinyStore.open(data) as store:
        ensure_subscriptions(store)
        round_no = rounds_done(store)
        while True:
            round_no += 1
            with store.transaction() as tx:
                tx.items.add(make_batch(round_no), now=NOW)
                cursor = match_new(tx)
                tx.feed_states.put(FeedState(feed_id=FEED, etag=f"r{round_no}"))
            print(f"committed {round_no} {cursor}", flush=True)
            chosen = [key for key in due_keys(store) if rng.random() < 0.5]
            with store.transaction() as tx:
                tx.alerts.mark_delivered(chosen, now=DELIVERY_TIME)
            print(f"delivered {len(chosen)}", flush=True)


def drain(data: str) -> None:
    with TinyStore.open(data) as store:
        ensure_subscriptions(store)
        with store.transaction() as tx:
            cursor = match_new(tx)
        with store.transaction() as tx:
            tx.alerts.mark_delivered(due_keys(store), now=DELIVERY_TIME)
        print(f"drained {cursor}", flush=True)


def main(argv: list[str]) -> None:
    mode, data = argv[0], argv[1]
    if mode == "run":
        run(data, int(argv[2]))
    elif mode == "drain":
        drain(data)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
