"""Looking for briefbot's own messages in a channel's history (exactly-once checks).

Every message of a keyed batch carries Slack message metadata (event_type
`DELIVERY_EVENT_TYPE`, payload: the key and the message's index in the batch).
`DeliveryHistory` reads conversations.history (or a thread's
conversations.replies) since a given time and finds those messages again,
so a post whose answer was lost, or a batch cut short by a crash, is neither
lost nor posted twice. Needs the `channels:history`, `groups:history` and
`im:history` scopes; lookups are bounded to `_HISTORY_PAGES` pages.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.deliver.ports import DeliveryError
from bot.slack.errors import describe_slack_error, unreachable

__all__ = ["DELIVERY_EVENT_TYPE", "DeliveryHistory", "delivery_part"]

DELIVERY_EVENT_TYPE = "briefbot_delivery"

# How many pages of history a lookup reads (200 messages each) before giving up.
_HISTORY_PAGES = 10
_HISTORY_PAGE_SIZE = 200


class DeliveryHistory:
    """Finds messages posted with a delivery key in one workspace (through `client`)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def find_part(
        self,
        channel: str,
        key: str,
        part: int | None,
        since_ts: str | float,
        *,
        thread_ts: str | None,
    ) -> str | None:
        """Search history (or a thread) for a message with `key` (and `part`, if given)."""
        fallback: str | None = None
        for found_part, ts in self.scan_parts(channel, key, since_ts, thread_ts=thread_ts):
            if part is not None:
                if found_part == part:
                    return ts
            elif found_part == 0:
                return ts
            else:
                # A resumed batch's top-level message may not be part 0.
                fallback = fallback or ts
        return fallback

    def scan_parts(
        self, channel: str, key: str, since_ts: str | float, *, thread_ts: str | None
    ) -> Iterator[tuple[int, str]]:
        """(part, ts) of each message carrying `key` in history since `since_ts` (or a thread)."""
        oldest = since_ts if isinstance(since_ts, str) else f"{max(since_ts, 0.0):.6f}"
        action = "cannot read the history of"
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            try:
                if thread_ts is None:
                    response = self._client.conversations_history(
                        channel=channel,
                        oldest=oldest,
                        inclusive=True,
                        include_all_metadata=True,
                        limit=_HISTORY_PAGE_SIZE,
                        cursor=cursor,
                    )
                else:
                    response = self._client.conversations_replies(
                        channel=channel,
                        ts=thread_ts,
                        include_all_metadata=True,
                        limit=_HISTORY_PAGE_SIZE,
                        cursor=cursor,
                    )
            except SlackApiError as exc:
                error, retryable = describe_slack_error(action, channel, exc)
                raise DeliveryError(error, retryable=retryable) from None
            except (SlackClientError, OSError, http.client.HTTPException) as exc:
                raise DeliveryError(unreachable(action, channel, exc), retryable=True) from None
            for message in response.get("messages") or []:
                found_part = delivery_part(message, key)
                if found_part is not None:
                    yield found_part, str(message.get("ts"))
            metadata = response.get("response_metadata") or {}
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else None
            if not cursor:
                break


def delivery_part(message: Any, key: str) -> int | None:
    """The part index of a message posted with `key`, or None if it is not one of ours."""
    if not isinstance(message, dict):
        return None
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != DELIVERY_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict) or payload.get("key") != key:
        return None
    part = payload.get("part", 0)
    return part if isinstance(part, int) else 0
