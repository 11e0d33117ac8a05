"""Whether the service is actually working: connected to Slack, and polling.

The running service beats every `HEARTBEAT_SECONDS` (`Heartbeats.beat`): it
records in the store whether Slack answers (Socket Mode: the connection is
up; HTTP mode: `auth.test` succeeded within `SLACK_CHECK_SECONDS`).
`assess` judges a heartbeat and the feeds' last polls, from any process:
`briefbot health` (the container's health check; exit 0 or 1) and `/healthz`
in HTTP mode (200 or 503) say the same thing.

With several replicas on one database (`assess_replicas`, what `briefbot
health` says) each replica beats under its own name, saying whether it
leads. The service is healthy when at least one replica is live (a heartbeat
within `STALE_SECONDS`) and leads, every live replica reaches Slack, and polls
run. A stale replica is named, but does not make the service unhealthy: its
claimed work passes to the others when its leases expire. The leader flag is
as of the replica's last beat: after a failover, up to `HEARTBEAT_SECONDS`
late. `/healthz` judges its own replica only (the proxy's question).

Not obvious: "polling" is read from the feed states the polls write, not from
the heartbeat, so a stuck scheduler shows even while the heartbeat thread
runs. The newest poll of any enabled feed must be more recent than twice the
shortest poll interval plus `POLL_GRACE`.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.config.model import Config
from bot.models import FeedState, as_utc
from bot.store.ports import Heartbeat, Store

__all__ = [
    "HEARTBEAT_SECONDS",
    "Connection",
    "HealthReport",
    "Heartbeats",
    "SlackProbe",
    "SlackWatch",
    "assess",
    "assess_replicas",
]

HEARTBEAT_SECONDS = 30
# A heartbeat older than this: the service is stopped or stuck.
STALE_SECONDS = 3 * HEARTBEAT_SECONDS
# How often HTTP mode asks Slack (auth.test) whether the token still works.
SLACK_CHECK_SECONDS = 300
POLL_GRACE = timedelta(minutes=5)

# (ok, detail) about Slack, asked by the service every beat.
SlackProbe = Callable[[], tuple[bool, str]]


@dataclass(frozen=True)
class HealthReport:
    """`healthy`, and one line per check (what is fine and what is not)."""

    healthy: bool
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return ("healthy" if self.healthy else "unhealthy") + "\n" + "\n".join(self.lines) + "\n"


def assess(
    heartbeat: Heartbeat | None,
    feed_states: Mapping[str, FeedState],
    config: Config,
    now: datetime,
) -> HealthReport:
    """Judge the service from its last heartbeat and the feeds' last polls."""
    now = as_utc(now)
    lines: list[str] = []
    healthy = True
    if heartbeat is None:
        return HealthReport(False, ["service: no heartbeat: `briefbot run` is not running here"])
    age = (now - as_utc(heartbeat.at)).total_seconds()
    if age > STALE_SECONDS:
        healthy = False
        lines.append(f"service: last heartbeat {age:.0f} s ago (pid {heartbeat.pid}): stopped?")
    else:
        lines.append(f"service: running (pid {heartbeat.pid}, heartbeat {age:.0f} s ago)")
    mode = "Socket Mode" if heartbeat.slack_mode == "socket" else "HTTP mode"
    if heartbeat.slack_ok:
        lines.append(f"slack: ok ({mode})")
    else:
        healthy = False
        lines.append(f"slack: not working ({mode}): {heartbeat.slack_detail or 'unknown'}")
    poll_ok, poll_line = _polling(feed_states, config, now)
    lines.append(poll_line)
    return HealthReport(healthy and poll_ok, lines)


def assess_replicas(
    heartbeats: Sequence[Heartbeat],
    feed_states: Mapping[str, FeedState],
    config: Config,
    now: datetime,
) -> HealthReport:
    """Judge the service from every replica's last heartbeat (see the module docstring)."""
    if len(heartbeats) <= 1 and all(not beat.replica for beat in heartbeats):
        return assess(heartbeats[0] if heartbeats else None, feed_states, config, now)
    now = as_utc(now)
    live = [b for b in heartbeats if (now - as_utc(b.at)).total_seconds() <= STALE_SECONDS]
    leaders = [b.replica for b in live if b.leader]
    lines = [f"service: {len(live)} of {len(heartbeats)} replicas live"]
    if leaders:
        lines[0] += f", the leader {', '.join(leaders)}"
    else:
        lines[0] += ": none leads (matching, alerts and retention wait)"
    healthy = bool(leaders)
    for beat in heartbeats:
        age = (now - as_utc(beat.at)).total_seconds()
        where = f"pid {beat.pid}" + (f" on {beat.host}" if beat.host else "")
        if beat not in live:
            lines.append(f"replica {beat.replica}: stale, last heartbeat {age:.0f} s ago ({where})")
            continue
        role = "leader, " if beat.leader else ""
        mode = "Socket Mode" if beat.slack_mode == "socket" else "HTTP mode"
        slack = (
            f"slack ok ({mode})"
            if beat.slack_ok
            else f"slack not working ({mode}): {beat.slack_detail or 'unknown'}"
        )
        healthy = healthy and beat.slack_ok
        lines.append(f"replica {beat.replica} ({role}{where}): heartbeat {age:.0f} s ago, {slack}")
    poll_ok, poll_line = _polling(feed_states, config, now)
    lines.append(poll_line)
    return HealthReport(healthy and poll_ok, lines)


def _polling(
    feed_states: Mapping[str, FeedState], config: Config, now: datetime
) -> tuple[bool, str]:
    enabled = config.enabled_feeds
    if not enabled:
        return True, "polls: no enabled feeds"
    attempts = [
        as_utc(state.last_attempt)
        for feed in enabled
        if (state := feed_states.get(feed.id)) is not None and state.last_attempt is not None
    ]
    if not attempts:
        return False, "polls: no feed polled yet"
    newest = max(attempts)
    shortest = min(feed.interval_seconds for feed in enabled)
    allowed = timedelta(seconds=2 * shortest) + POLL_GRACE
    ago = now - newest
    minutes = int(ago.total_seconds() // 60)
    if ago > allowed:
        return False, f"polls: none for {minutes} min (expected every {shortest // 60} min)"
    return True, f"polls: running (last {minutes} min ago)"


class Heartbeats:
    """The service's side: beat now and then; `healthz` answers /healthz from memory."""

    def __init__(
        self,
        store: Store,
        config: Config,
        slack_mode: str,
        probe: SlackProbe,
        clock: Callable[[], datetime],
        *,
        replica: str = "",
        leading: Callable[[], bool] = lambda: True,
    ) -> None:
        self._replica = replica
        self._leading = leading
        self._store = store
        self._config = config
        self._mode = slack_mode
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Heartbeat | None = None
        self._last_beat = 0.0

    def beat_if_due(self, monotonic_now: float) -> None:
        if monotonic_now - self._last_beat >= HEARTBEAT_SECONDS or self._last is None:
            self._last_beat = monotonic_now
            self.beat()

    def beat(self) -> None:
        ok, detail = self._probe()
        now = self._clock()
        heartbeat = Heartbeat(
            at=now,
            pid=os.getpid(),
            slack_mode=self._mode,
            slack_ok=ok,
            slack_checked_at=now,
            slack_detail=detail,
            replica=self._replica,
            host=socket.gethostname() if self._replica else "",
            leader=self._leading(),
        )
        with self._lock:
            self._last = heartbeat
        self._store.beat(heartbeat)

    def healthz(self) -> tuple[bool, str]:
        with self._lock:
            heartbeat = self._last
        report = assess(heartbeat, self._store.feed_states.all(), self._config, self._clock())
        return report.healthy, report.text


class SlackWatch:
    """The `SlackProbe` of `briefbot run`: Socket Mode asks the connection, HTTP mode
    calls `auth_test` at most every `SLACK_CHECK_SECONDS` and remembers the answer."""

    def __init__(
        self,
        *,
        socket_mode: bool,
        auth_test: Callable[[], object],
        monotonic: Callable[[], float],
    ) -> None:
        self._socket_mode = socket_mode
        self._auth_test = auth_test
        self._monotonic = monotonic
        self.connection: Connection | None = None
        self._checked: float | None = None
        self._answer: tuple[bool, str] = (False, "not checked yet")

    def __call__(self) -> tuple[bool, str]:
        if self._socket_mode:
            if self.connection is None:
                return False, "the Socket Mode connection is not open yet"
            if self.connection.is_connected():
                return True, ""
            return False, "the Socket Mode connection is down (reconnecting)"
        now = self._monotonic()
        if self._checked is None or now - self._checked >= SLACK_CHECK_SECONDS:
            self._checked = now
            try:
                self._auth_test()
                self._answer = (True, "")
            except Exception as exc:  # whatever failed, the operator reads one line
                self._answer = (False, f"auth.test failed: {type(exc).__name__}")
        return self._answer


@runtime_checkable
class Connection(Protocol):
    def is_connected(self) -> bool: ...
