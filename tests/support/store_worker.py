"""A separate process for the store's lock and crash tests (run by tests/test_store.py).

    store_worker.py hold DATA           open, print "ready <pid>", close on a stdin line
    store_worker.py loop DATA SEED      add a batch and commit, forever; after each commit
                                        print "committed <last_seq> <count> <round>"
    store_worker.py crash-between DATA  commit batch A, then exit (code 17) inside the commit
                                        of batch B: after its item shards are written,
                                        before state.json is

The items are built by `make_batch`, which the tests import to know what to expect.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, so make `tests.` and `bot.` importable like under pytest.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.models import FeedState, Item
from bot.store.tinydb.engine import Store

NOW = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
CRASH_EXIT = 17


def make_batch(label: str, size: int, feed_id: str = "fr-bis") -> list[Item]:
    """`size` distinct items of one feed, ids `<label>-<n>`."""
    return [
        Item(
            id=f"{label}-{n}",
            feed_id=feed_id,
            title=f"Additions to the Entity List ({label} #{n})",
            summary="BIS amends the EAR by adding entities to the Entity List. " * 4,
            link=f"https://www.federalregister.gov/d/{label}-{n}",
            link_title_key=f"lt-{label}-{n}",
        )
        for n in range(size)
    ]


def run_hold(data: str) -> None:
    store = Store.open(data)
    print(f"ready {os.getpid()}", flush=True)
    sys.stdin.readline()
    store.close()
    print("closed", flush=True)


def run_loop(data: str, seed: int) -> None:
    rng = random.Random(seed)
    with Store.open(data) as store:
        for round_no in range(1_000_000):
            batch = make_batch(f"r{round_no}", rng.randint(1, 300), feed_id=f"feed{round_no % 3}")
            store.add_items(batch, now=NOW)
            store.put_feed_state(FeedState(feed_id=f"feed{round_no % 3}", etag=f"r{round_no}"))
            store.commit()
            print(f"committed {store.last_seq} {store.item_count()} {round_no}", flush=True)


def run_crash_between(data: str) -> None:
    store = Store.open(data)
    store.add_items(make_batch("a", 50), now=NOW)
    store.put_feed_state(FeedState(feed_id="fr-bis", etag='"A"'))
    store.put_record("cursors", "digest", {"seq": store.last_seq})
    store.commit()
    print(f"committed {store.last_seq} {store.item_count()} 0", flush=True)
    store.add_items(make_batch("b", 70), now=NOW)
    store.put_feed_state(FeedState(feed_id="fr-bis", etag='"B"'))
    store.put_record("cursors", "digest", {"seq": store.last_seq})
    store._after_shard_flush = lambda: os._exit(CRASH_EXIT)
    store.commit()
    print("commit returned: the fault hook did not run", flush=True)


def main(argv: list[str]) -> None:
    mode, data = argv[0], argv[1]
    if mode == "hold":
        run_hold(data)
    elif mode == "loop":
        run_loop(data, int(argv[2]))
    elif mode == "crash-between":
        run_crash_between(data)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
