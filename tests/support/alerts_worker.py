"""A separate process for the alert queue's crash test (run by tests/test_alerts.py).

    alerts_worker.py run DATA SEED   forever: store a batch of items, match them, enqueue
                                     the alerts and advance the match cursor in one commit,
                                     print "committed <round> <cursor>"; then deliver a random
                                     part of the due alerts in a second commit, print
                                     "delivered <count>"
    alerts_worker.py drain DATA      match what is left, deliver everything, print
                                     "drained <cursor>"

It works like the pipeline will: items are matched from the store (seq >
cursor), not from what this process added, so a round cut short by a kill
is finished by the next run. The round number is kept in the store and
committed with the rest; a round redone after a kill regenerates the same
items, which the store deduplicates.

Which owner an item concerns follows from the words in its title (`WORDS`),
so the test can say what to expect without running the matcher.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script, so make `tests.` and `bot.` importable like under pytest.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.brief.alerts import (
    due_alerts,
    enqueue_alerts,
    get_match_cursor,
    mark_delivered,
    set_match_cursor,
)
from bot.brief.match import SubscriptionMatcher
from bot.brief.subscriptions import create_subscription, list_subscriptions
from bot.config.model import TopicConfig
from bot.models import Item
from bot.store.tinydb.engine import Store

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
        Item(id=f"r{round_no}-{n}", feed_id="fr-bis", title=title_of(round_no, n))
        for n in range(size)
    ]


def ensure_subscriptions(store: Store) -> None:
    if list_subscriptions(store):
        return
    for owner, text, mode in SUBSCRIPTIONS:
        create_subscription(
            store,
            owner=owner,
            created_by=owner,
            topic_or_query=text,
            topics=TOPICS,
            mode=mode,
            now=NOW,
        )
    store.commit()


def match_new(store: Store) -> int:
    """Match items past the cursor, enqueue, advance the cursor; the caller commits."""
    matcher = SubscriptionMatcher(list_subscriptions(store), TOPICS)
    items = list(store.iter_items(after_seq=get_match_cursor(store)))
    enqueue_alerts(store, matcher.match(items, now=NOW))
    set_match_cursor(store, store.last_seq)
    return store.last_seq


def run(data: str, seed: int) -> None:
    rng = random.Random(seed)
    with Store.open(data) as store:
        ensure_subscriptions(store)
        progress = store.get_record("worker", "progress") or {"round": 0}
        round_no = int(progress["round"])
        while True:
            round_no += 1
            store.add_items(make_batch(round_no), now=NOW)
            cursor = match_new(store)
            store.put_record("worker", "progress", {"round": round_no})
            store.commit()
            print(f"committed {round_no} {cursor}", flush=True)
            due = [a.key for alerts in due_alerts(store, DELIVERY_TIME).values() for a in alerts]
            chosen = [key for key in due if rng.random() < 0.5]
            mark_delivered(store, chosen, now=DELIVERY_TIME)
            store.commit()
            print(f"delivered {len(chosen)}", flush=True)


def drain(data: str) -> None:
    with Store.open(data) as store:
        ensure_subscriptions(store)
        cursor = match_new(store)
        store.commit()
        due = [a.key for alerts in due_alerts(store, DELIVERY_TIME).values() for a in alerts]
        mark_delivered(store, due, now=DELIVERY_TIME)
        store.commit()
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
