"""A channel's digest, posted exactly once: the digest ledger and its crash recovery.

The ledger (`DigestState`, one per channel) holds the seq up to which items
were covered and when the last digest went out. Sending one:

1. the post is recorded in flight (committed), with the exact messages planned;
2. the messages go to Slack with a metadata key (no store lock held meanwhile);
3. the cursor moves to the items covered, only once Slack accepted all of it.

After a crash between 1 and 3 the key is looked up in the channel before
anything else: all of it there, the cursor moves; part of it (a crash between
two messages of a long digest), the rest is posted into the first message's
thread, from the messages recorded, not rebuilt (items may be pruned or
linked as duplicates meanwhile); none of it, the digest is sent again. Slack
is asked again before every resume, and nothing is posted while it cannot be
asked. A digest cut short by an outage is finished the same way.

A channel seen for the first time starts from the last day's items and counts
downtime from then; its first digest also shows the backlog (a feed's first
poll, never alerted) published in that day, so a new team's first briefing
is not empty. Later digests leave backlog out (no catch-up for times before the bot knew it); only
sending records that, so a preview (`current_state`) changes nothing. The
period a digest names in its header starts at the last digest (`last_sent`),
or a day back for a channel's first (`period_start`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from bot.brief.schedule import missed_digest
from bot.config.model import DigestConfig
from bot.deliver.locks import DestinationLocks
from bot.deliver.ports import DeliveryResult, Poster, poster_for
from bot.models import DigestView, SlackMessage
from bot.store.ports import (
    DeliveryProblem,
    DigestLedgerReader,
    DigestPost,
    DigestState,
    ItemReader,
    Store,
)

__all__ = [
    "FIRST_DIGEST_LOOKBACK",
    "DigestComposer",
    "DigestOutcome",
    "DigestSender",
    "current_state",
    "period_start",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: A channel seen for the first time gets the items of this window, not all history.
FIRST_DIGEST_LOOKBACK = timedelta(days=1)
_EMPTY_NOTICE = "Nothing new since the last briefing."


@dataclass
class DigestOutcome:
    """What one digest run did: "sent", "skipped" (nothing new), "already-sent" or "failed"."""

    channel: str
    status: str
    items: int = 0
    error: str | None = None
    messages: tuple[SlackMessage, ...] = ()


class DigestComposer(Protocol):
    """What the sender needs from the app: the digest's messages, rendered now."""

    def compose(
        self,
        digest: DigestConfig,
        *,
        after_seq: int,
        through_seq: int | None = None,
        since: datetime | None = None,
        backlog_since: datetime | None = None,
    ) -> tuple[DigestView, list[SlackMessage]]:
        """The view and messages of the items after `after_seq` (up to `through_seq`).

        `since` is when the period the digest covers began (the last digest);
        `backlog_since`, for a channel's first digest, lets in the backlog
        items published since then.
        """
        ...

    def notice(self, text: str) -> list[SlackMessage]: ...


class _LedgerView(Protocol):
    @property
    def digests(self) -> DigestLedgerReader: ...
    @property
    def items(self) -> ItemReader: ...


def period_start(state: DigestState, *, first_sight: bool, now: datetime) -> datetime:
    """When the period a digest covers began: the last digest, or the lookback of a first one."""
    return now - FIRST_DIGEST_LOOKBACK if first_sight else state.last_sent


def current_state(view: _LedgerView, channel: str, now: datetime) -> DigestState:
    """The channel's ledger, or what it starts as (not recorded) for a channel seen first now."""
    state = view.digests.get(channel)
    if state is not None:
        return state
    first = view.items.first_seq_since(now - FIRST_DIGEST_LOOKBACK)
    start = first if first is not None else view.items.last_seq + 1
    return DigestState(channel=channel, seq=start - 1, last_sent=now)


class DigestSender:
    """Sends digests and finishes the ones a crash or an outage cut short."""

    def __init__(self, store: Store, locks: DestinationLocks, *, clock: Clock) -> None:
        self._store = store
        self._locks = locks
        self._clock = clock

    def send(
        self,
        digest: DigestConfig,
        poster: Poster,
        composer: DigestComposer,
        *,
        scheduled_for: datetime | None = None,
    ) -> DigestOutcome:
        """Build and post a channel's digest for `scheduled_for`, unless that one was sent.

        A digest set from a workspace (many workspaces) posts with that workspace's token.
        """
        channel = digest.channel
        poster = poster_for(poster, digest.team_id, digest.enterprise_id)
        with self._locks.hold(f"digest:{channel}"):
            now = self._clock()
            scheduled_for = scheduled_for or now
            unknown = self._finish_inflight(channel, poster)
            if unknown is not None:
                # Posting now could repeat a digest Slack already has.
                error = (
                    f"cannot tell whether the last digest reached {channel} "
                    f"({unknown}); it is not posted again until Slack answers"
                )
                self._record_problem(channel, error)
                return DigestOutcome(channel, "failed", error=error)
            state, first_sight = self._recorded_state(channel, now)
            if state.partial is not None:
                finished, finished_for = self._finish_partial(digest, state, poster, composer)
                if finished.status == "failed" or finished_for == scheduled_for:
                    return finished
                state, _ = self._recorded_state(channel, now)
            # A channel seen first at this very slot (a schedule set from Slack
            # since start-up) gets this slot's digest.
            if scheduled_for <= state.last_sent and scheduled_for != now and not first_sight:
                return DigestOutcome(channel, "already-sent")
            since = period_start(state, first_sight=first_sight, now=now)
            backlog_since = since if first_sight else None
            return self._send_new(
                digest, state, poster, composer, now, scheduled_for, since, backlog_since
            )

    def catch_up(
        self, digests: Sequence[DigestConfig], poster: Poster, composer: DigestComposer
    ) -> list[DigestOutcome]:
        """At start-up: send once each digest whose time passed while the bot was down."""
        outcomes = []
        for digest in digests:
            with self._locks.hold(f"digest:{digest.channel}"):
                self._finish_inflight(
                    digest.channel, poster_for(poster, digest.team_id, digest.enterprise_id)
                )
                state, _ = self._recorded_state(digest.channel, self._clock())
                missed = missed_digest(digest, state.last_sent, self._clock())
            if missed is not None:
                outcomes.append(self.send(digest, poster, composer, scheduled_for=missed))
        return outcomes

    # -- one send ---------------------------------------------------------------------

    def _send_new(
        self,
        digest: DigestConfig,
        state: DigestState,
        poster: Poster,
        composer: DigestComposer,
        now: datetime,
        scheduled_for: datetime,
        since: datetime,
        backlog_since: datetime | None = None,
    ) -> DigestOutcome:
        channel = digest.channel
        view, messages = composer.compose(
            digest, after_seq=state.seq, since=since, backlog_since=backlog_since
        )
        covered = max(state.seq, view.covered_through_seq)
        if not messages:
            if digest.when_empty != "notice":
                with self._store.transaction() as tx:
                    tx.digests.put(replace(state, seq=covered, last_sent=scheduled_for))
                return DigestOutcome(channel, "skipped")
            messages = composer.notice(_EMPTY_NOTICE)
        post = DigestPost(
            key=f"digest:{channel}:{scheduled_for.isoformat()}",
            since_ts=now.timestamp() - 5,
            seq=covered,
            scheduled_for=scheduled_for,
            items=view.shown_count,
            parts=len(messages),
            messages=tuple(messages),
        )
        with self._store.transaction() as tx:
            tx.digests.put(replace(state, inflight=post))
        result = poster.post(channel, messages, metadata={"key": post.key})
        state = replace(state, inflight=None)
        if not result.ok and result.posted:
            # Part of it reached the channel: finish that same digest later,
            # in its thread, rather than posting it all again.
            state = replace(state, partial=replace(post, posted=result.posted, ts=result.ts))
        if result.ok:
            state = replace(state, seq=covered, last_sent=scheduled_for)
            outcome = DigestOutcome(channel, "sent", view.shown_count, messages=tuple(messages))
        else:
            outcome = DigestOutcome(channel, "failed", error=result.error)
        self._save(state, result)
        return outcome

    def _finish_partial(
        self, digest: DigestConfig, state: DigestState, poster: Poster, composer: DigestComposer
    ) -> tuple[DigestOutcome, datetime]:
        """Post the rest of a digest an outage cut short, with the same items, once."""
        channel, partial = digest.channel, state.partial
        assert partial is not None
        if partial.messages:
            messages, item_count = list(partial.messages), partial.items
        else:  # a record from before the messages were kept: rebuild them
            view, messages = composer.compose(
                digest, after_seq=state.seq, through_seq=partial.seq, since=state.last_sent
            )
            item_count = view.shown_count
        # A crash may have come in the middle of an earlier resume: ask Slack
        # how far the digest got rather than trusting the record alone.
        try:
            found = poster.find_posted(channel, partial.key, partial.since_ts)
        except Exception as exc:
            error = f"cannot check how much of the digest reached {channel} yet: {exc}"
            self._record_problem(channel, error)
            return DigestOutcome(channel, "failed", error=error), partial.scheduled_for
        posted, ts = partial.posted, partial.ts
        if found is not None and found.posted > posted:
            posted, ts = found.posted, found.ts
        earlier = DeliveryResult(ok=False, ts=ts, posted=posted)
        result = poster.post(channel, messages, metadata={"key": partial.key}, resume=earlier)
        if result.ok:
            state = replace(state, seq=partial.seq, last_sent=partial.scheduled_for, partial=None)
            outcome = DigestOutcome(channel, "sent", item_count, messages=tuple(messages))
        else:
            if result.posted:
                resumed = replace(partial, posted=result.posted, ts=result.ts or partial.ts)
                state = replace(state, partial=resumed)
            outcome = DigestOutcome(channel, "failed", error=result.error)
        self._save(state, result)
        return outcome, partial.scheduled_for

    def _finish_inflight(self, channel: str, poster: Poster) -> str | None:
        """After a crash mid-post: see how much of the digest Slack has.

        All of it: move the cursor as if we saw it go. Part of it: record it as
        partial, so the rest is posted into its thread. None: forget the
        attempt (the digest is built and sent again). Returns why Slack could
        not be asked (the attempt stays in flight), or None.
        """
        state = self._store.digests.get(channel)
        inflight = None if state is None else state.inflight
        if state is None or inflight is None:
            return None
        try:
            found = poster.find_posted(channel, inflight.key, inflight.since_ts)
        except Exception as exc:
            log.warning("cannot check digest delivery for %s yet: %s", channel, exc)
            return str(exc)
        state = replace(state, inflight=None)
        # Records written before "parts" existed: whatever Slack has counts as all.
        if found is not None and found.posted < inflight.parts:
            log.info(
                "digest for %s was cut after %d of %d messages; finishing it",
                channel,
                found.posted,
                inflight.parts,
            )
            state = replace(state, partial=replace(inflight, posted=found.posted, ts=found.ts))
        elif found is not None:
            state = replace(state, seq=inflight.seq, last_sent=inflight.scheduled_for)
        with self._store.transaction() as tx:
            tx.digests.put(state)
        return None

    # -- bookkeeping -------------------------------------------------------------------

    def _recorded_state(self, channel: str, now: datetime) -> tuple[DigestState, bool]:
        """The channel's ledger, and whether it was recorded just now (first sight)."""
        state = self._store.digests.get(channel)
        if state is not None:
            return state, False
        with self._store.transaction() as tx:
            state = current_state(tx, channel, now)
            tx.digests.put(state)
        return state, True

    def _save(self, state: DigestState, result: DeliveryResult) -> None:
        with self._store.transaction() as tx:
            tx.digests.put(state)
            if result.ok:
                tx.delivery_problems.clear(state.channel)
            else:
                log.warning("delivery to %s failed: %s", state.channel, result.error)
                tx.delivery_problems.record(
                    DeliveryProblem(state.channel, result.error or "delivery failed", self._clock())
                )

    def _record_problem(self, target: str, error: str) -> None:
        log.warning("delivery to %s failed: %s", target, error)
        with self._store.transaction() as tx:
            tx.delivery_problems.record(DeliveryProblem(target, error, self._clock()))
