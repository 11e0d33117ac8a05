"""Posts briefbot's messages to Slack: paced, retried, and checkable after a crash.

`Deliverer.post` sends a batch of `SlackMessage`s to one channel: the first as
a channel message, the ones marked `in_thread` as replies in its thread, with
unfurling off and never `link_names`/`parse` (a feed title of `<!channel>` must
stay text). It returns a `DeliveryResult` and never raises for a Slack or
network failure.

Not obvious:
- Pacing: Slack allows about one message per second per channel
  (chat.postMessage "special" rate limit). A monotonic-clock gate per channel
  spaces the starts of posts by `interval`; different channels do not wait for
  each other.
- Retries live in the client (`bot.slack.client`): 429 after Retry-After, 5xx
  and unsent requests with backoff. What reaches this module has used up that
  budget and is reported as `retryable=True`; Slack's refusals
  (`not_in_channel`, `invalid_auth`, ...) are `retryable=False` with a sentence
  naming the channel and the fix (worded in `bot.slack.errors`).
- Exactly once: a post counts as done only when Slack answered ok. Pass
  `metadata={"key": ...}` and every message carries Slack message metadata
  (event_type `briefbot_delivery`, payload: the key and the message's index in
  the batch). When the connection is lost after a post was sent, Slack may or
  may not have posted it: the deliverer then looks for the key in the channel
  (`bot.slack.history`: conversations.history / conversations.replies) before
  trying again. After a
  crash, `already_delivered(channel, key, since_ts)` answers the same question
  for a delivery whose outcome was never recorded, and `find_posted` says how
  many messages of a batch got there, to resume it. Reading history needs the
  `channels:history`, `groups:history` and `im:history` scopes. Lookups are
  rare (a lost answer, a restart) and bounded by `since_ts`; Slack's 2025
  limits on conversations.history (1 call a minute) apply to commercially
  distributed non-Marketplace apps, not to an internal app like briefbot.
  Without a key a lost answer is retried, so such a post is at least once.
- A partly posted batch (a later message failed) reports `posted` and the
  first message's `ts`; `post(..., resume=result)` sends the rest into the
  same thread.
- Every message is checked against Slack's limits (`bot.render.slacklimits`) before
  the first is sent, so a batch is never posted half-way for being too big.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.deliver.ports import DeliveryError, DeliveryResult, FileUpload
from bot.models import SlackMessage
from bot.render.slacklimits import MessageTooLargeError, ensure_valid
from bot.slack.errors import describe_slack_error, reason, unreachable
from bot.slack.history import DELIVERY_EVENT_TYPE, DeliveryHistory
from bot.slack.upload import upload_file

__all__ = ["ADMIN_TTL", "DELIVERY_EVENT_TYPE", "Deliverer", "describe_slack_error"]

log = logging.getLogger(__name__)

# Slack's clock and ours may differ; look back this much further than asked.
_CLOCK_MARGIN = 300.0
# conversations.list: Slack recommends pages of at most 200; a workspace with
# more than 20 pages of channels is asked to pick the channel instead.
_CHANNEL_PAGES = 20
_CHANNEL_PAGE_SIZE = 200
#: How long users.info's word on a workspace admin is kept (bot/app/admins.py).
ADMIN_TTL = 300.0


@dataclass(frozen=True, slots=True)
class _Outcome:
    ts: str | None = None
    error: str | None = None
    retryable: bool = False


class Deliverer:
    """Posts message batches through one `WebClient` (thread-safe).

    `interval`: the least time between two posts to one channel (Slack: ~1 s).
    `attempts`: how often one message is sent when the answer is lost on the way
    back (each time after checking Slack did not already post it), waiting
    `backoff` seconds, doubling, in between.
    """

    def __init__(
        self,
        client: WebClient,
        *,
        interval: float = 1.0,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self._client = client
        self._history = DeliveryHistory(client)
        self._gate = _ChannelGate(interval)
        self._attempts = max(1, attempts)
        self._backoff = backoff
        self._dm_lock = threading.Lock()
        self._dm_channels: dict[str, str] = {}
        self._admins: dict[str, tuple[float, bool]] = {}  # user -> (when asked, admin)

    @property
    def client(self) -> WebClient:
        """The WebClient this deliverer posts with (e.g. for users.info)."""
        return self._client

    # -- posting -------------------------------------------------------------

    def post(
        self,
        channel: str,
        messages: Sequence[SlackMessage],
        *,
        metadata: Mapping[str, Any] | None = None,
        resume: DeliveryResult | None = None,
    ) -> DeliveryResult:
        """Post `messages` to `channel` in order; in_thread ones reply to the first.

        `metadata`: the delivery's payload; its "key" (a non-empty str) makes the
        post checkable with `already_delivered`. `resume`: the result of an
        earlier, partly posted call with the same messages (only `posted` and
        `ts` are needed); the messages after the first `posted` go on, into
        the thread of `ts`.
        Raises ValueError for metadata without a key (a programming error).
        """
        batch = list(messages)
        start = resume.posted if resume is not None else 0
        done = list(resume.timestamps) if resume is not None else []
        parent = resume.ts if resume is not None else None
        if not channel:
            return DeliveryResult(ok=False, error="cannot post: no channel given")
        problem = _limit_problem(channel, batch)
        if problem is not None:
            log.warning("%s", problem)
            return _result(False, False, problem, start, done, parent)
        key = _delivery_key(metadata)
        since = time.time() - _CLOCK_MARGIN
        sent = start
        for index in range(start, len(batch)):
            message = batch[index]
            thread_ts = parent if (message.in_thread and parent) else None
            meta = None
            if metadata is not None:
                meta = {
                    "event_type": DELIVERY_EVENT_TYPE,
                    "event_payload": {**metadata, "part": index},
                }
            outcome = self._post_one(channel, message, thread_ts, meta, key, index, since)
            if outcome.ts is None:
                log.warning("%s", outcome.error)
                return _result(False, outcome.retryable, outcome.error, sent, done, parent)
            sent += 1
            done.append(outcome.ts)
            if parent is None:
                parent = outcome.ts
        log.debug("posted %d message(s) to %s", sent - start, channel)
        return _result(True, False, None, sent, done, parent)

    def upload_file(self, channel: str, upload: FileUpload) -> DeliveryResult:
        """Share a file in `channel`, paced like a post (bot/slack/upload.py); never raises."""
        self._gate.wait(channel)
        return upload_file(self._client, channel, upload)

    def post_dm(
        self,
        user_id: str,
        messages: Sequence[SlackMessage],
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> DeliveryResult:
        """Post into the bot's direct-message conversation with `user_id`."""
        try:
            channel = self.open_dm(user_id)
        except DeliveryError as exc:
            log.warning("%s", exc)
            return DeliveryResult(ok=False, retryable=exc.retryable, error=str(exc))
        return self.post(channel, messages, metadata=metadata)

    def post_ephemeral(self, channel: str, user_id: str, message: SlackMessage) -> DeliveryResult:
        """Show `message` to `user_id` only, in `channel` (not paced: nobody else sees it)."""
        problem = _limit_problem(channel, [message])
        if problem is not None:
            return DeliveryResult(ok=False, error=problem)
        action = f"cannot show a message to {user_id} in"
        try:
            response = self._client.chat_postEphemeral(
                channel=channel,
                user=user_id,
                text=message.text,
                blocks=[dict(b) for b in message.blocks] or None,
            )
        except SlackApiError as exc:
            error, retryable = describe_slack_error(action, channel, exc)
            return DeliveryResult(ok=False, retryable=retryable, error=error)
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            return DeliveryResult(ok=False, retryable=True, error=unreachable(action, channel, exc))
        ts = str(response.get("message_ts") or "") or None
        return DeliveryResult(ok=True, ts=ts, posted=1, timestamps=(ts,) if ts else ())

    def open_dm(self, user_id: str) -> str:
        """The id of the bot's DM conversation with `user_id` (conversations.open, cached)."""
        with self._dm_lock:
            cached = self._dm_channels.get(user_id)
        if cached is not None:
            return cached
        action = "cannot open a direct message with"
        try:
            response = self._client.conversations_open(users=user_id)
        except SlackApiError as exc:
            error, retryable = describe_slack_error(action, user_id, exc)
            raise DeliveryError(error, retryable=retryable) from None
        except (SlackClientError, OSError, http.client.HTTPException) as exc:
            raise DeliveryError(unreachable(action, user_id, exc), retryable=True) from None
        conversation = response.get("channel")
        channel_id = conversation.get("id") if isinstance(conversation, dict) else None
        if not isinstance(channel_id, str) or not channel_id:
            raise DeliveryError(f"{action} {user_id}: Slack gave no channel id", retryable=True)
        with self._dm_lock:
            self._dm_channels[user_id] = channel_id
        return channel_id

    def user_timezone(self, user_id: str) -> str | None:
        """The user's Slack time zone (users.info), or None when unknown or unreadable."""
        try:
            response = self._client.users_info(user=user_id)
            user = response.get("user") or {}
            zone = user.get("tz")
        except Exception as exc:  # Slack unreachable or the scope missing: the caller defaults
            log.warning("cannot read the time zone of %s: %s", user_id, exc)
            return None
        if not isinstance(zone, str) or not zone:
            return None
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            return None
        return zone

    def is_workspace_admin(self, user_id: str) -> bool:
        """Whether users.info says `user_id` is an admin or owner of this token's workspace;
        kept `ADMIN_TTL` seconds. False when Slack cannot be asked (refused, never granted)."""
        now = time.monotonic()
        with self._dm_lock:
            known = self._admins.get(user_id)
        if known is not None and now - known[0] < ADMIN_TTL:
            return known[1]
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
        except Exception as exc:  # Slack unreachable or the scope missing: not an admin
            log.warning("cannot tell whether %s is a workspace admin: %s", user_id, exc)
            return False
        admin = any(user.get(flag) is True for flag in ("is_admin", "is_owner", "is_primary_owner"))
        with self._dm_lock:
            self._admins[user_id] = (now, admin)
        return admin

    def channels_named(self, name: str) -> list[str]:
        """Ids of the channels called `name` (conversations.list: public channels, and
        private ones the bot is in; archived ones left out). Raises DeliveryError."""
        wanted = name.lstrip("#").strip().lower()
        found: list[str] = []
        cursor: str | None = None
        for _ in range(_CHANNEL_PAGES):
            try:
                response = self._client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=_CHANNEL_PAGE_SIZE,
                    cursor=cursor,
                )
            except SlackApiError as exc:
                error, retryable = describe_slack_error("cannot list the channels of", "Slack", exc)
                raise DeliveryError(error, retryable=retryable) from None
            except (SlackClientError, OSError, http.client.HTTPException) as exc:
                raise DeliveryError(
                    unreachable("cannot list the channels of", "Slack", exc), retryable=True
                ) from None
            for channel in response.get("channels") or []:
                if isinstance(channel, dict) and str(channel.get("name", "")).lower() == wanted:
                    found.append(str(channel.get("id")))
            metadata = response.get("response_metadata") or {}
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if not cursor:
                break
        return found

    # -- exactly once ----------------------------------------------------------

    def already_delivered(self, channel: str, key: str, since_ts: str | float) -> bool:
        """Whether a batch posted with metadata key `key` is in `channel` since `since_ts`.

        `since_ts`: a Slack ts or Unix time no later than the first attempt.
        Raises DeliveryError when Slack cannot be asked (then nobody knows).
        """
        return self.find_delivery(channel, key, since_ts) is not None

    def find_delivery(self, channel: str, key: str, since_ts: str | float) -> str | None:
        """The ts of the top-level message carrying `key`, or None (see already_delivered)."""
        return self._history.find_part(channel, key, None, since_ts, thread_ts=None)

    def find_posted(self, channel: str, key: str, since_ts: str | float) -> DeliveryResult | None:
        """How much of a batch posted with `key` is in `channel`: None if none of it.

        For a restart after a crash in the middle of a batch: the result has
        `posted` (the leading messages found: 0..posted-1) and the first
        message's `ts`, ready for `post(..., resume=result)`; `ok` is False
        because the caller alone knows the batch's length. Messages are looked
        for in the channel and in the first message's thread.
        Raises DeliveryError when Slack cannot be asked.
        """
        found = dict(self._history.scan_parts(channel, key, since_ts, thread_ts=None))
        parent = found.get(0)
        if parent is None:
            return None
        found.update(self._history.scan_parts(channel, key, since_ts, thread_ts=parent))
        posted = 0
        while posted in found:
            posted += 1
        timestamps = tuple(found[part] for part in range(posted))
        return DeliveryResult(ok=False, ts=parent, posted=posted, timestamps=timestamps)

    # -- internals -------------------------------------------------------------

    def _post_one(
        self,
        channel: str,
        message: SlackMessage,
        thread_ts: str | None,
        meta: dict[str, Any] | None,
        key: str | None,
        part: int,
        since: float,
    ) -> _Outcome:
        action = "cannot post to"
        lost: BaseException | None = None
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            self._gate.wait(channel)
            try:
                response = self._client.chat_postMessage(
                    channel=channel,
                    text=message.text,
                    blocks=[dict(b) for b in message.blocks] or None,
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                    metadata=meta,
                )
            except SlackApiError as exc:
                error, retryable = describe_slack_error(action, channel, exc)
                return _Outcome(error=error, retryable=retryable)
            except URLError as exc:
                # Never reached Slack, and the client's retries are spent.
                return _Outcome(error=unreachable(action, channel, exc), retryable=True)
            except (OSError, http.client.HTTPException) as exc:
                # Sent, but the answer was lost: Slack may have posted it.
                lost = exc
                outcome = self._after_lost_answer(channel, key, part, since, thread_ts, exc)
                if outcome is not None:
                    return outcome
                continue
            except SlackClientError as exc:
                return _Outcome(error=f"{action} {channel}: {exc}", retryable=False)
            ts = response.get("ts")
            if not isinstance(ts, str) or not ts:
                return _Outcome(error=f"{action} {channel}: Slack gave no ts", retryable=True)
            return _Outcome(ts=ts)
        return _Outcome(
            error=(
                f"{action} {channel}: the connection kept dropping before Slack answered "
                f"({reason(lost)}); try again later"
            ),
            retryable=True,
        )

    def _after_lost_answer(
        self,
        channel: str,
        key: str | None,
        part: int,
        since: float,
        thread_ts: str | None,
        exc: BaseException,
    ) -> _Outcome | None:
        """The outcome of a post whose answer was lost, or None to send it again."""
        if key is not None:
            try:
                found = self._history.find_part(channel, key, part, since, thread_ts=thread_ts)
            except DeliveryError as check:
                return _Outcome(error=str(check), retryable=True)
            if found is not None:
                log.info("post to %s was accepted although its answer was lost", channel)
                return _Outcome(ts=found)
        log.warning(
            "lost Slack's answer to a post to %s (%s); trying again%s",
            channel,
            reason(exc),
            "" if key else " (no delivery key: it may appear twice)",
        )
        return None


class _ChannelGate:
    """Spaces the starts of posts to one channel by `interval` (monotonic clock)."""

    def __init__(self, interval: float) -> None:
        self._interval = max(0.0, interval)
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(channel, now))
            self._next[channel] = start + self._interval
            if len(self._next) > 1000:
                # Forget channels whose slot has passed: they would not wait anyway.
                self._next = {c: t for c, t in self._next.items() if t > now}
        if start > now:
            time.sleep(start - now)


# -- helpers -------------------------------------------------------------------


def _result(
    ok: bool, retryable: bool, error: str | None, posted: int, done: list[str], parent: str | None
) -> DeliveryResult:
    return DeliveryResult(
        ok=ok, retryable=retryable, error=error, ts=parent, posted=posted, timestamps=tuple(done)
    )


def _delivery_key(metadata: Mapping[str, Any] | None) -> str | None:
    if metadata is None:
        return None
    key = metadata.get("key")
    if not isinstance(key, str) or not key:
        raise ValueError("delivery metadata needs a non-empty str 'key'")
    if "part" in metadata:
        raise ValueError("delivery metadata must not set 'part': the deliverer numbers messages")
    return key


def _limit_problem(channel: str, batch: Sequence[SlackMessage]) -> str | None:
    """Why a message of the batch cannot be sent (limits, stray markup), or None."""
    for index, message in enumerate(batch, start=1):
        try:
            ensure_valid(message)
        except MessageTooLargeError as exc:
            return (
                f"cannot post to {channel}: message {index} of {len(batch)} breaks Slack's "
                f"limits ({'; '.join(exc.problems)}); the batch was not sent"
            )
    return None
