"""Several `briefbot run` replicas on one database: joining them, and the leader's serial work.

`join` gives the runtime the store's coordination (`bot.store.ports.Coordination`;
PostgreSQL's in bot/store/postgres/coordination.py, `SingleProcess` for a data
directory) and starts it: from then on deliveries claim their destination
across replicas (`bot.deliver.locks`), polls claim their feed (the scheduler),
and the serial work runs where `is_leader()`.

The serial work on the items: story links and matching follow the match
cursor, in seq order, in one transaction (`Runtime.link_and_match`). On the
leader a poll does it in its own commit, as one process alone always does;
items stored by the other replicas are taken up by `match_pending`, which the
scheduler runs every few seconds everywhere and which does nothing off the
leader. The story index is dropped whenever this replica becomes the leader:
another may have linked items meanwhile, and it is rebuilt from the store up
to the cursor. A transaction of the serial work commits only while this
replica still holds the leadership (fencing, checked inside it).

Lease and check times come from the environment: BRIEFBOT_LEASE_SECONDS
(default 30: how long a dead replica's work stays claimed) and
BRIEFBOT_LEADER_CHECK_SECONDS (default 2: how soon a follower takes over from a
dead leader).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bot.app.storage import open_coordination
from bot.models import Item
from bot.store.ports import Coordination

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

__all__ = ["join", "match_pending", "timings"]

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_CHECK_SECONDS = 2.0


def timings(env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(lease seconds, leader check seconds) from the environment, else the defaults."""
    env = os.environ if env is None else env
    values = []
    for name, default in (
        ("BRIEFBOT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
        ("BRIEFBOT_LEADER_CHECK_SECONDS", DEFAULT_CHECK_SECONDS),
    ):
        text = env.get(name, "").strip()
        try:
            value = float(text) if text else default
        except ValueError:
            raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
        if value <= 0:
            raise ValueError(f"{name} must be positive, not {text!r}")
        values.append(value)
    return values[0], values[1]


def join(runtime: Runtime) -> Coordination:
    """Coordinate `runtime` with the other replicas of its store; the caller closes it."""
    lease, check = timings()
    coordination = open_coordination(runtime.store, runtime.config.settings, lease, check)
    runtime.coordination = coordination
    runtime.locks.coordination = coordination
    on_lead = getattr(coordination, "on_lead", None)
    if on_lead is not None:
        on_lead.append(lambda: runtime.drop_stories(failed=False))
    start = getattr(coordination, "start", None)
    if start is not None:
        start()
    log.info(
        "replica %s: %s",
        coordination.replica,
        "the leader" if coordination.is_leader() else "following the leader",
    )
    return coordination


def match_pending(runtime: Runtime) -> list[Item]:
    """On the leader: link and match the items other replicas stored; the items matched."""
    store = runtime.store
    with runtime.coordination.leading() as leader:
        if not leader:
            return []
        if store.items.last_seq <= store.alerts.match_cursor():
            return []
        stories = runtime.stories
        try:
            with store.transaction() as tx:
                return runtime.link_and_match(tx, stories)
        except BaseException:
            runtime.drop_stories(stories)
            raise
