"""A separate process for the store's lock, crash and reader tests (tests/store/tinydb/).

    store_worker.py hold DATA           open to write, print "ready <pid>", close on a stdin line
                                        (then print "closed")
    store_worker.py loop DATA SEED      one transaction per round, forever: a batch of items
                                        (`loop_rounds`), the feed's state (ETag "r<round>")
                                        and the match cursor (the last seq); after each
                                        commit print "committed <last_seq> <count> <round>"
    store_worker.py crash-between DATA  commit batch A, then exit (code 17) inside the commit
                                        of batch B: after its item shards are written,
                                        before state.json is

The items are built by `make_batch` and `loop_rounds`, which the tests import to
know what to expect.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, so make `tests.` and `bot.` importable like under pytest.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.models import FeedState, Item
from bot.store.tinydb.store import TinyStore

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


def loop_rounds(seed: int) -> Iterator[tuple[int, str, list[Item]]]:
    """The rounds `loop` commits, in order: (round, feed id, items)."""
    rng = random.Random(seed)
    for round_no in range(1_000_000):
        feed_id = f"feed{round_no % 3}"
        yield round_no, feed_id, make_batch(f"r{round_no}", rng.randint(1, 300), feed_id=feed_id)


def run_hold(data: str) -> None:
    store = TinyStore.open(data)
    print(f"ready {os.getpid()}", flush=True)
    sys.stdin.readline()
    store.close()
    print("closed", flush=True)


def run_loop(data: str, seed: int) -> None:
    with TinyStore.open(data) as store:
        for round_no, feed_id, batch in loop_rounds(seed):
            with store.transaction() as tx:
                tx.items.add(batch, now=NOW)
                tx.feed_states.put(FeedState(feed_id=feed_id, etag=f"r{round_no}"))
                tx.alerts.set_match_cursor(tx.items.last_seq)
            print(f"committed {store.items.last_seq} {store.items.count()} {round_no}", flush=True)


def run_crash_between(data: str) -> None:
    store = TinyStore.open(data)
    with store.transaction() as tx:
        tx.items.add(make_batch("a", 50), now=NOW)
        tx.feed_states.put(FeedState(feed_id="fr-bis", etag='"A"'))
        tx.alerts.set_match_cursor(tx.items.last_seq)
    print(f"committed {store.items.last_seq} {store.items.count()} 0", flush=True)
    store.engine.after_shard_flush = lambda: os._exit(CRASH_EXIT)
    with store.transaction() as tx:
        tx.items.add(make_batch("b", 70), now=NOW)
        tx.feed_states.put(FeedState(feed_id="fr-bis", etag='"B"'))
        tx.alerts.set_match_cursor(tx.items.last_seq)
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
