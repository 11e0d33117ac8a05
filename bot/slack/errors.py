"""Slack's refusals and network failures as sentences for an operator.

`describe_slack_error` turns a `SlackApiError` into "cannot post to C123:
not_in_channel — invite the bot with /invite @briefbot" plus whether trying
later can succeed; `unreachable` does the same for a request that never got
an answer. The delivery code, the history lookups and `briefbot run`'s
start-up checks all word their errors here.
"""

from __future__ import annotations

from urllib.error import URLError

from slack_sdk.errors import SlackApiError

__all__ = ["describe_slack_error", "reason", "unreachable"]

# Slack answers these with ok=false when trying later can succeed.
_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_INVITE = "invite the bot with /invite @briefbot"
_TOKEN_FIX = "check SLACK_BOT_TOKEN (reinstall the app if it was removed)"  # noqa: S105
# What an operator should do about each refusal; {needed} comes from Slack's answer.
_HINTS = {
    "not_in_channel": _INVITE,
    "channel_not_found": f"check the channel id; for a private channel, {_INVITE}",
    "is_archived": "the channel is archived; unarchive it or choose another channel",
    "restricted_action": "the workspace does not let the bot post in this channel",
    "invalid_auth": f"Slack rejected the bot token; {_TOKEN_FIX}",
    "not_authed": "no bot token was sent; set SLACK_BOT_TOKEN",
    "token_revoked": f"the bot token was revoked; {_TOKEN_FIX}",
    "token_expired": f"the bot token expired; {_TOKEN_FIX}",
    "account_inactive": f"the bot token belongs to a deleted app or workspace; {_TOKEN_FIX}",
    "missing_scope": "the app lacks the {needed} scope; add it to the manifest and reinstall",
    "user_not_found": "no such Slack user",
    "msg_too_long": "the message text is over Slack's 40,000-character limit",
    "msg_blocks_too_long": "the blocks are over Slack's total size for one message",
    "invalid_blocks": "Slack refused the blocks",
    "no_text": "the message was empty",
    "thread_not_found": "the thread's first message is gone",
}


def describe_slack_error(action: str, target: str, exc: SlackApiError) -> tuple[str, bool]:
    """A sentence for an operator ("cannot post to C123: not_in_channel — invite ...")
    and whether trying again later can succeed."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    code = str(data.get("error") or "")
    if status == 429 or code == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        wait = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
        after = f" (Retry-After: {wait} s)" if wait is not None else ""
        return f"{action} {target}: Slack is rate limiting the bot{after}; try again later", True
    if status >= 500:
        return f"{action} {target}: Slack answered HTTP {status}; try again later", True
    if code in _TRANSIENT_ERRORS:
        return f"{action} {target}: {code} — Slack had a passing problem; try again later", True
    hint = _HINTS.get(code)
    if hint is not None:
        hint = hint.format(needed=data.get("needed") or "required")
    if code == "invalid_blocks" and isinstance(data.get("errors"), list):
        hint = f"{hint}: {'; '.join(str(e) for e in data['errors'][:3])}"
    if not code:
        code = f"HTTP {status}" if status else "unexpected answer"
    return f"{action} {target}: {code}" + (f" — {hint}" if hint else ""), False


def unreachable(action: str, target: str, exc: BaseException) -> str:
    """`action target`: Slack could not be reached, and why."""
    return f"{action} {target}: Slack is unreachable ({reason(exc)}); try again later"


def reason(exc: BaseException | None) -> str:
    """What went wrong on the wire, in a few words (URLError unwrapped)."""
    if exc is None:
        return "no answer"
    if isinstance(exc, URLError):
        exc_reason = exc.reason
        return str(exc_reason) if not isinstance(exc_reason, BaseException) else reason(exc_reason)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
