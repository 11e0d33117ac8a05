"""Feed-health notices in the ops channel: one when a feed has failed too long, one on recovery.

Never one per failure: what was notified is kept (`OpsNotice`, committed), so
a restart repeats nothing. Without an ops channel the notices are only logged
(once each, all the same). A notice is recorded after Slack accepted it: a
crash in between can repeat that one notice. The ops channel's lock is held
while posting; nothing else is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.config.redact import redact_text
from bot.config.units import format_duration
from bot.deliver.locks import DestinationLocks
from bot.deliver.ports import Poster
from bot.models import FeedConfig, FeedState, SlackMessage
from bot.store.ports import OpsNotice, Store

__all__ = ["FeedHealthNotifier"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NoticeRenderer = Callable[[str], list[SlackMessage]]


class FeedHealthNotifier:
    """Gives the failure and recovery notices the feed states call for."""

    def __init__(
        self, store: Store, locks: DestinationLocks, *, clock: Clock, failure_notice: timedelta
    ) -> None:
        self._store = store
        self._locks = locks
        self._clock = clock
        self.failure_notice = failure_notice

    def check(
        self,
        feeds: Mapping[str, FeedConfig],
        ops_channel: str | None,
        poster: Poster,
        render: NoticeRenderer,
    ) -> list[str]:
        """Post a notice for each enabled feed (`feeds`) that crossed the threshold or recovered.

        Returns the notices given (also logged).
        """
        with self._locks.hold(f"notices:{ops_channel or ''}"):
            now = self._clock()
            states = self._store.feed_states.all()
            notify = _Notify(ops_channel, poster, render)
            given = self._announce_recoveries(feeds, states, now, notify)
            given += self._announce_failures(feeds, states, now, notify)
        return given

    def _announce_recoveries(
        self,
        feeds: Mapping[str, FeedConfig],
        states: Mapping[str, FeedState],
        now: datetime,
        notify: _Notify,
    ) -> list[str]:
        given = []
        for feed_id, notice in self._store.ops_notices.all().items():
            feed = feeds.get(feed_id)
            if feed is None:  # removed or paused: nothing more to say about it
                self._forget(feed_id)
                continue
            if _failing_since(states.get(feed_id)) == notice.failing_since:
                continue  # still the outage we told about
            # Working again (or it worked, then failed anew: a new outage).
            text = _recovery_text(feed, notice.failing_since, now)
            if notify(text):
                self._forget(feed_id)
                given.append(text)
        return given

    def _announce_failures(
        self,
        feeds: Mapping[str, FeedConfig],
        states: Mapping[str, FeedState],
        now: datetime,
        notify: _Notify,
    ) -> list[str]:
        given = []
        told = self._store.ops_notices.all()
        for feed_id, feed in feeds.items():
            state = states.get(feed_id)
            since = _failing_since(state)
            if state is None or since is None or now - since < self.failure_notice:
                continue
            if feed_id in told:
                continue
            text = _failure_text(feed, state, since, now)
            if notify(text):
                with self._store.transaction() as tx:
                    tx.ops_notices.put(OpsNotice(feed_id, failing_since=since, notified_at=now))
                given.append(text)
        return given

    def _forget(self, feed_id: str) -> None:
        with self._store.transaction() as tx:
            tx.ops_notices.delete(feed_id)


class _Notify:
    """Logs a notice and posts it to the ops channel; False when worth trying again later."""

    def __init__(self, channel: str | None, poster: Poster, render: NoticeRenderer) -> None:
        self.channel = channel
        self.poster = poster
        self.render = render

    def __call__(self, text: str) -> bool:
        log.warning("ops notice: %s", text)
        if self.channel is None:
            return True
        result = self.poster.post(self.channel, self.render(text))
        if result.ok:
            return True
        if result.retryable:
            log.warning(
                "ops notice to %s not delivered, will retry: %s", self.channel, result.error
            )
            return False
        # A channel the bot cannot post to: say so in the log, don't retry forever.
        log.error("ops notice to %s not delivered: %s", self.channel, result.error)
        return True


def _failing_since(state: FeedState | None) -> datetime | None:
    if state is None or not state.consecutive_failures:
        return None
    return state.failing_since


def _failure_text(feed: FeedConfig, state: FeedState, since: datetime, now: datetime) -> str:
    return (
        f"Feed {feed.display_name} ({feed.id}) has been failing for {_span(now - since)} "
        f"(since {since:%Y-%m-%d %H:%M} UTC, {state.consecutive_failures} failed polls). "
        f"Last error: {redact_text(state.last_error or 'unknown')}. Its news is missing from "
        f"alerts and digests until it recovers; check the feed, or pause it with /brief feed "
        f"pause {feed.id}."
    )


def _recovery_text(feed: FeedConfig, since: datetime, now: datetime) -> str:
    return (
        f"Feed {feed.display_name} ({feed.id}) is working again, after failing since "
        f"{since:%Y-%m-%d %H:%M} UTC ({_span(now - since)})."
    )


def _span(delta: timedelta) -> str:
    """A duration to the minute: "6h1m"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    return format_duration(minutes * 60)
