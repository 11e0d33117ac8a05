"""Sharing a file (a chart) in a channel: slack_sdk's `files_upload_v2`, as a `DeliveryResult`.

`files_upload_v2` makes three requests: `files.getUploadURLExternal` (Slack
answers with a file id and an upload URL), a POST of the bytes to that URL,
and `files.completeUploadExternal`, which shares the file in the channel
with its title and initial comment. Scopes: `files:write`.

Not obvious:
- Only the first and last are Web API calls with the client's retries; the
  POST to the upload URL is a plain request that slack_sdk does not retry,
  and an answer other than 200 is a `SlackRequestError` ("Failed to upload a
  file (status: ...)"): reported as worth trying again.
- `files.completeUploadExternal` is in `UNSAFE_TO_REPEAT`
  (bot/slack/client.py): a lost answer is not resent, since a second call
  could share the file twice. An upload is therefore at most once; its
  callers (`/brief chart`, the monthly briefing) say so.
- Never raises for a Slack or network failure: the result's `error` is a
  sentence naming the channel and the fix (bot/slack/errors.py).
"""

from __future__ import annotations

import http.client
import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError

from bot.deliver.ports import DeliveryResult, FileUpload
from bot.slack.errors import describe_slack_error, unreachable

__all__ = ["upload_file"]

log = logging.getLogger(__name__)

# Slack's own cap on a files_upload_v2 file is 1 GB; a chart is well under 1 MB.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def upload_file(client: WebClient, channel: str, upload: FileUpload) -> DeliveryResult:
    """Share `upload` in `channel` (in its thread when `thread_ts` is set); never raises."""
    action = "cannot share a file in"
    if not channel:
        return DeliveryResult(ok=False, error="cannot share a file: no channel given")
    if not upload.content or len(upload.content) > MAX_UPLOAD_BYTES:
        size = f"{len(upload.content):,} bytes"
        return DeliveryResult(ok=False, error=f"{action} {channel}: the file is {size}")
    try:
        response = client.files_upload_v2(
            channel=channel,
            content=upload.content,
            filename=upload.filename,
            title=upload.title,
            alt_txt=upload.alt_text or None,
            initial_comment=upload.comment or None,
            thread_ts=upload.thread_ts,
        )
    except SlackApiError as exc:
        error, retryable = describe_slack_error(action, channel, exc)
        log.warning("%s", error)
        return DeliveryResult(ok=False, retryable=retryable, error=error)
    except SlackRequestError as exc:
        # The bytes were refused at the upload URL: nothing was shared.
        error = f"{action} {channel}: the upload was refused ({exc}); try again later"
        log.warning("%s", error)
        return DeliveryResult(ok=False, retryable=True, error=error)
    except (SlackClientError, OSError, http.client.HTTPException) as exc:
        error = unreachable(action, channel, exc)
        log.warning("%s", error)
        return DeliveryResult(ok=False, retryable=True, error=error)
    file = response.get("file")
    file_id = file.get("id") if isinstance(file, dict) else None
    log.debug("shared file %s in %s", file_id, channel)
    return DeliveryResult(ok=True, posted=1)
