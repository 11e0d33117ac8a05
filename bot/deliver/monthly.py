"""The monthly briefing of a channel whose digest says `monthly: true`: posted once a month.

It goes out with the first scheduled digest of a month (in the digest's
time zone) and covers the month before. Exactly once across restarts, with
the digest ledger: under the key `monthly:<channel>` (`MONTHLY_PREFIX`), a
`DigestState` whose `last_sent` is when the briefing was posted and whose
`inflight` is a post under way, as for digests (bot/deliver/digests.py):

1. the post is recorded in flight (committed), with its messages;
2. the messages go to Slack with a metadata key naming the channel and month;
3. `last_sent` is recorded once Slack accepted the first message.

A restart with a post in flight asks Slack (the key, in the channel's
history) before anything else: found, it counts as sent; not found, it is
sent again; Slack not answering, nothing is posted until it does.

The month's Entity List chart follows in the thread of the briefing, after
step 3, at most once: a crash or an outage between the briefing and the
image costs the image, never a second briefing (the failure is recorded as
a delivery problem that `/brief status` shows).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from bot.brief.monthly import Month
from bot.brief.schedule import digest_zone
from bot.config.model import DigestConfig
from bot.deliver.locks import DestinationLocks
from bot.deliver.ports import FileUpload, Poster, poster_for
from bot.models import SlackMessage
from bot.store.ports import DeliveryProblem, DigestPost, DigestState, Store

__all__ = ["MONTHLY_PREFIX", "MonthlyComposer", "MonthlyOutcome", "MonthlySender"]

log = logging.getLogger(__name__)

MONTHLY_PREFIX = "monthly:"


@dataclass(frozen=True)
class MonthlyOutcome:
    """ "sent", "already-sent", "skipped" (nothing to say) or "failed"; `chart` whether the
    chart was shared."""

    channel: str
    status: str
    month: Month
    error: str | None = None
    chart: bool = False


class MonthlyComposer(Protocol):
    """What the sender needs from the app: the month's messages, and its chart if any."""

    def __call__(self, month: Month) -> tuple[list[SlackMessage], FileUpload | None]: ...


class MonthlySender:
    """Sends a channel's monthly briefing once a month (see the module docstring)."""

    def __init__(
        self, store: Store, locks: DestinationLocks, *, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._locks = locks
        self._clock = clock

    def send(
        self, digest: DigestConfig, poster: Poster, compose: MonthlyComposer
    ) -> MonthlyOutcome:
        """Post last month's briefing unless this month's went out already (with the token
        of the digest's workspace, with many)."""
        channel = digest.channel
        poster = poster_for(poster, digest.team_id, digest.enterprise_id)
        key = MONTHLY_PREFIX + channel
        with self._locks.hold(f"digest:{channel}"):
            now = self._clock()
            zone = digest_zone(digest)
            this_month = Month.of(now.astimezone(zone))
            month = this_month.previous
            state = self._store.digests.get(key)
            if state is not None and state.inflight is not None:
                state, problem = self._finish_inflight(state, channel, poster)
                if problem is not None:
                    return self._failed(channel, month, problem)
            if state is not None and Month.of(state.last_sent.astimezone(zone)) == this_month:
                return MonthlyOutcome(channel, "already-sent", month)
            messages, chart = compose(month)
            if not messages:
                return MonthlyOutcome(channel, "skipped", month)
            post = DigestPost(
                key=f"{key}:{month.key}",
                since_ts=now.timestamp() - 5,
                seq=0,
                scheduled_for=now,
                items=0,
                parts=len(messages),
                messages=tuple(messages),
            )
            base = state or DigestState(key, 0, datetime.fromtimestamp(0, now.tzinfo))
            with self._store.transaction() as tx:
                tx.digests.put(replace(base, inflight=post))
            result = poster.post(channel, messages, metadata={"key": post.key})
            landed = result.ok or result.posted > 0
            with self._store.transaction() as tx:
                tx.digests.put(
                    replace(base, inflight=None, last_sent=now if landed else base.last_sent)
                )
            if not landed:
                return self._failed(channel, month, result.error or "not posted")
        return self._share_chart(channel, month, poster, chart, result.ts)

    def _finish_inflight(
        self, state: DigestState, channel: str, poster: Poster
    ) -> tuple[DigestState, str | None]:
        """After a crash mid-post: sent if Slack has it, else forgotten (to send again)."""
        inflight = state.inflight
        assert inflight is not None
        try:
            found = poster.find_posted(channel, inflight.key, inflight.since_ts)
        except Exception as exc:
            return state, f"cannot tell whether the monthly briefing reached {channel} ({exc})"
        last_sent = inflight.scheduled_for if found is not None else state.last_sent
        state = replace(state, inflight=None, last_sent=last_sent)
        with self._store.transaction() as tx:
            tx.digests.put(state)
        return state, None

    def _share_chart(
        self,
        channel: str,
        month: Month,
        poster: Poster,
        chart: FileUpload | None,
        thread_ts: str | None,
    ) -> MonthlyOutcome:
        if chart is None:
            return MonthlyOutcome(channel, "sent", month)
        result = poster.upload_file(channel, replace(chart, thread_ts=thread_ts))
        if not result.ok:
            error = f"the monthly chart for {channel} was not shared: {result.error}"
            self._record(channel, error)
            return MonthlyOutcome(channel, "sent", month, error=error)
        return MonthlyOutcome(channel, "sent", month, chart=True)

    def _failed(self, channel: str, month: Month, error: str) -> MonthlyOutcome:
        self._record(channel, error)
        return MonthlyOutcome(channel, "failed", month, error=error)

    def _record(self, channel: str, error: str) -> None:
        log.warning("monthly briefing for %s: %s", channel, error)
        with self._store.transaction() as tx:
            tx.delivery_problems.record(DeliveryProblem(channel, error, self._clock()))
