"""Acknowledgements first: work waits until the requests that arrived before it are answered.

The HTTP server (bot/slack/httpserver.py) tells the app's `AckGate` when a
request has fully arrived and when it has been answered; the `/brief` relay
(bot/slack/ackfirst.py) and the lazy listener (bot/slack/app.py) call
`let_acks_go_first()` before each command's work. Twenty or two hundred
commands arriving together are then all acknowledged before the first of
them is worked on, rather than sharing the GIL with that work.

Not obvious: work waits only for the requests that had arrived when it began
to wait (a count, not "until nothing is pending"), and at most `MOST_WAIT`
seconds: a steady stream of requests never starves the work.
"""

from __future__ import annotations

import threading

__all__ = ["MOST_WAIT", "AckGate"]

# Seconds work waits for the acknowledgements ahead of it, at most. 200 commands
# at once during a poll take ~0.5 s to acknowledge; at 0.25 s the replies' work
# started halfway through (busy crowd ack p99 621 ms; 452 ms at 1 s, a reply
# costing 10-130 ms of CPU now, bench/ack_crowd.py).
MOST_WAIT = 1.0


class AckGate:
    """Counts requests arrived and answered; lets work wait for those ahead of it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._arrived = 0
        self._answered = 0

    def arrived(self) -> None:
        with self._changed:
            self._arrived += 1

    def answered(self) -> None:
        with self._changed:
            self._answered += 1
            self._changed.notify_all()

    def let_acks_go_first(self, most: float = MOST_WAIT) -> bool:
        """Wait until the requests that arrived before now are answered (True), or `most` s."""
        with self._changed:
            ahead = self._arrived
            return self._changed.wait_for(lambda: self._answered >= ahead, most)
