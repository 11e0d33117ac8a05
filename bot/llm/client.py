"""One chat-completions request to an OpenAI-compatible endpoint, bounded in time and size.

`ChatClient.complete(messages)` POSTs `{"model", "messages", "temperature": 0,
"max_tokens"}` to BRIEFBOT_LLM_URL with `Authorization: Bearer <key>` (when a
key is set) and returns `choices[0].message.content`. Anything else (no
answer in time, a refused connection, an HTTP error, a body that is not
JSON or not that shape) raises `ChatError`, whose message says what went
wrong in words fit for a log: the URL redacted, never the key, never the
reply's text.

Not obvious:
- The timeout bounds the exchange: httpx's own timeouts are per phase
  (connect, each read), and a server that trickles its body a byte a second
  would never trip them, so the body is read in chunks against a deadline
  from the start (and capped at `MAX_BODY`). A server that trickles its
  headers is still bounded per read only.
- Proxy and CA settings from the environment are honoured (trust_env): a
  company gateway is often reached that way. Nothing here guards addresses:
  the operator names this URL, and a local model server is a normal choice.
- The key is registered with the log redaction (`hide_secret`) when the
  client is made, so no library's log record can show it either.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

if "httpx" not in sys.modules:
    # Without `httpx._main`, its command-line client, which `import httpx` loads when
    # it can: click, pygments and rich (40 ms), for a program the bot never runs.
    # Marked absent, httpx installs the stub it uses when those are not installed.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx

from bot.config.model import LanguageModel
from bot.config.redact import hide_secret, redact_url

__all__ = ["MAX_BODY", "MAX_TOKENS", "ChatClient", "ChatError"]

MAX_BODY = 1_000_000  # bytes of a reply read at most
MAX_TOKENS = 400


class ChatError(Exception):
    """The endpoint gave no usable answer; the message says why (no key, no reply text)."""


class ChatClient:
    """Chat completions from `settings.url`; each `complete` is one bounded request."""

    def __init__(self, settings: LanguageModel) -> None:
        self.settings = settings
        self.shown_url = redact_url(settings.url)
        hide_secret(settings.key)

    def complete(self, messages: Sequence[dict[str, str]]) -> str:
        """The assistant's reply to `messages`; ChatError when there is none to use."""
        payload = {
            "model": self.settings.model,
            "messages": list(messages),
            "temperature": 0,
            "max_tokens": MAX_TOKENS,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.settings.key:
            headers["Authorization"] = f"Bearer {self.settings.key}"
        timeout = self.settings.timeout_seconds
        deadline = time.monotonic() + timeout
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(timeout)) as client,
                client.stream(
                    "POST", self.settings.url, content=json.dumps(payload), headers=headers
                ) as response,
            ):
                body = _read(response, deadline)
                status = response.status_code
        except httpx.TimeoutException:
            raise ChatError(f"{self.shown_url} did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ChatError(
                f"{self.shown_url} could not be reached: {type(exc).__name__}"
            ) from None
        if status != 200:
            raise ChatError(f"{self.shown_url} answered HTTP {status}")
        return _content(body, self.shown_url)


def _read(response: httpx.Response, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise ChatError(f"the reply was over {MAX_BODY:,} bytes")
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the reply took too long")
        chunks.append(chunk)
    if time.monotonic() > deadline:
        raise httpx.ReadTimeout("the reply took too long")
    return b"".join(chunks)


def _content(body: bytes, where: str) -> str:
    """`choices[0].message.content` of a chat-completions reply; ChatError if not there."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        raise ChatError(f"{where} answered something that is not JSON") from None
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise ChatError(f"{where} answered JSON without choices[0].message.content") from None
    if not isinstance(content, str):
        raise ChatError(f"{where} answered a message whose content is not text")
    return content
