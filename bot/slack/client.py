"""Builds the Slack Web API clients: the only place briefbot constructs a `WebClient`.

Every client talks to `SLACK_API_URL` (a `WebClient` built from a token alone
would talk to slack.com) and retries what is safe to retry, a bounded number of
times:

- HTTP 429: wait for `Retry-After` (delta-seconds or an HTTP-date, RFC 9110
  §10.2.3), via slack_sdk's `RateLimitErrorRetryHandler`, which slack_sdk does
  not install by default. A wait longer than `max_retry_after` is not slept
  through: the call fails with the 429 and the caller decides (a worker blocked
  for an hour helps nobody).
- HTTP 500, 502, 503, 504: exponential backoff with jitter. slack_sdk's own
  `ServerErrorRetryHandler` knows only 500 and 503; the gateways in front of
  Slack also answer 502 and 504.
- Connection errors: a request that never left (connection refused, DNS, a
  connect timeout: urllib wraps those in `URLError`) is always retried. A
  request that was sent but got no answer (`RemoteDisconnected`, a reset, a
  read timeout) may have taken effect, so it is retried only for methods that
  are safe to repeat; `chat.postMessage` is not (a retry could post twice), and
  `bot.slack.deliver` resolves that case by looking for the message first.

The token is only ever handed to the `WebClient`; nothing here logs it, and
slack_sdk's own debug log redacts the Authorization header.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import random
import re
import ssl
import time
import urllib.request
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.config.model import SlackSecrets
from bot.headers import parse_retry_after

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRYABLE_STATUSES",
    "UNSAFE_TO_REPEAT",
    "SlackClientConfigError",
    "make_retry_handlers",
    "make_web_client",
]

DEFAULT_TIMEOUT = 10
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
# Methods whose repetition is visible in Slack: a second call posts a second
# message. Connection losses after sending are not retried for these.
UNSAFE_TO_REPEAT = frozenset(
    {
        "chat.meMessage",
        "chat.postEphemeral",
        "chat.postMessage",
        "chat.scheduleMessage",
        "files.completeUploadExternal",
        "files.upload",
    }
)
# What slack_sdk itself waits when a 429 carries no usable Retry-After.
_DEFAULT_RETRY_AFTER = 1.0


class SlackClientConfigError(ValueError):
    """The Slack settings cannot make a working client (no token, bad URL)."""


class _OneLinePerFailure(logging.Filter):
    """slack_sdk logs each failed attempt ("Failed to send a request to Slack API
    server", ERROR) and each retry ("Going to retry the same request", INFO): up
    to nine lines for one unreachable Slack. The failure reaches our code as an
    exception, which says it once with what to do; these lines are dropped."""

    _NOISE = ("Failed to send a request to Slack API server", "Going to retry the same request")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self._NOISE)


logging.getLogger("slack_sdk.web.base_client").addFilter(_OneLinePerFailure())

# A Slack token as it appears in a response body: its kind kept, the rest hidden.
_TOKEN = re.compile(r"\b(xox[abeoprs]-|xapp-)[0-9A-Za-z-]+")


class _HideTokens(logging.Filter):
    """slack_sdk's DEBUG line "Received the following response" prints the body, and
    the body of oauth.v2.access (an install) holds the workspace's new bot token.
    Each token in such a line becomes `xoxb-***` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = _TOKEN.sub(r"\1***", message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


logging.getLogger("slack_sdk.web.base_client").addFilter(_HideTokens())


def make_web_client(
    secrets: SlackSecrets,
    *,
    timeout: int = DEFAULT_TIMEOUT,
    max_retries: int = 3,
    backoff: float = 0.5,
    max_retry_after: float = 60.0,
    tokenless: bool = False,
) -> WebClient:
    """A `WebClient` for the bot token, aimed at `secrets.api_url`, with retries.

    `tokenless`: a client without a token (many workspaces: Bolt hands each
    request a copy with its workspace's token, and the OAuth flow needs none).

    `backoff` is the first wait after a 5xx or connection error (doubling each
    retry, plus up to half again of jitter); tests make it small.
    Raises SlackClientConfigError when there is no bot token or the URL is not http(s).
    """
    token = (secrets.bot_token or "").strip()
    if not token and not tokenless:
        raise SlackClientConfigError(
            "SLACK_BOT_TOKEN is not set: the bot needs its xoxb- token to call Slack"
        )
    base_url = secrets.api_url.strip()
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SlackClientConfigError(
            "SLACK_API_URL must be an http(s) URL such as https://slack.com/api/"
        )
    if not base_url.endswith("/"):
        # slack_sdk joins method names onto the base URL (urljoin): without the
        # slash, ".../api" + "chat.postMessage" would drop the "api" segment.
        base_url += "/"
    client = WebClient(
        token=token or None,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=make_retry_handlers(
            max_retries=max_retries, backoff=backoff, max_retry_after=max_retry_after
        ),
    )
    if client.proxy and _bypasses_proxy(parts.hostname):
        # slack_sdk takes HTTPS_PROXY from the environment but ignores NO_PROXY.
        client.proxy = None
    return client


def make_retry_handlers(
    *, max_retries: int = 3, backoff: float = 0.5, max_retry_after: float = 60.0
) -> list[RetryHandler]:
    """The retry policy every briefbot client uses (see the module docstring)."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_HalfJitter())
    return [
        _RateLimitRetry(max_retry_count=max_retries, max_wait=max_retry_after),
        _ServerErrorRetry(max_retry_count=max_retries, interval_calculator=interval),
        _ConnectionRetry(max_retry_count=max_retries, interval_calculator=interval),
    ]


# -- retry handlers -----------------------------------------------------------


class _HalfJitter(Jitter):
    """Adds up to half the interval at random, so retries of many workers spread out.

    slack_sdk's RandomJitter adds up to a whole second whatever the interval,
    which makes short test backoffs slow and long ones barely jittered.
    """

    def recalculate(self, duration: float) -> float:
        return duration + random.uniform(0, duration / 2)


def _retry_after_seconds(response: HttpResponse | None) -> float | None:
    if response is None:
        return None
    for name, values in response.headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) and values else values
            return parse_retry_after(str(value))
    return None


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """Honours Retry-After on 429, up to `max_wait` seconds per wait."""

    def __init__(self, *, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after_seconds(response)
        return wait is None or wait <= self.max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        wait = _retry_after_seconds(response)
        wait = _DEFAULT_RETRY_AFTER if wait is None else wait
        state.next_attempt_requested = True
        # A little jitter so workers limited together do not return together.
        time.sleep(wait + random.uniform(0, 0.25))
        state.increment_current_attempt()


class _ServerErrorRetry(ServerErrorRetryHandler):
    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in RETRYABLE_STATUSES


class _ConnectionRetry(ConnectionErrorRetryHandler):
    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if error is None or response is not None:
            return False  # an HTTP answer (HTTPError is a URLError): not ours
        if isinstance(error, URLError):
            # Raised before the request was on the wire; a certificate problem
            # will not fix itself, anything else (refused, DNS, timeout) may.
            return not isinstance(error.reason, ssl.SSLCertVerificationError)
        if isinstance(error, (http.client.HTTPException, ConnectionError, TimeoutError)):
            return _method_of(request) not in UNSAFE_TO_REPEAT
        return False


def _method_of(request: HttpRequest) -> str:
    return urlsplit(request.url).path.rsplit("/", 1)[-1]


def _bypasses_proxy(host: str) -> bool:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        if host == "localhost":
            return True
    # On Linux proxy_bypass reads NO_PROXY / no_proxy from the environment.
    return bool(urllib.request.proxy_bypass(host))
