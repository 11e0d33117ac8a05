"""Fetch feeds over HTTP(S): conditional GET, redirects, limits, `fetch_feeds` concurrency.

`fetch_feeds` is the synchronous entry point (it runs its own event loop,
from any thread); `fetch_feed` fetches one feed on a `FeedClient`. Neither
raises for a feed's failure: every failure becomes a `FetchResult` with
`ok=False` and an error text meant for the operator (bot/ingest/fetch/errors.py).

Not obvious:
- Redirects are followed by hand (at most `max_redirects`), so every hop is
  checked: http(s) only, no https -> http downgrade, no loops; and every
  connection goes through the private-address guard (bot/ingest/fetch/guard.py),
  by the feed's own policy (allow_private, allow_addresses), hop after hop.
- A feed URL is read by bot/ingest/fetch/urls.py (its host by bot/config/hosts.py
  first, UTS 46: `ｅｘａｍｐｌｅ.org` is example.org, as the config checker read it).
- The requests go out on bot/ingest/fetch/wire.py (asyncio and h11; not httpx,
  which cost three times the CPU per request and 25-30 ms to import). User
  info in a URL is sent as Basic credentials.
- TLS: the certificates of certifi's bundle (as httpx had them), the host name
  checked; the context is made once per process, when an https URL is first
  dialled.
- Bodies are decoded by bot/ingest/fetch/body.py within `max_bytes`.
- `FetchResult.headers` are the response's as received, lower-cased (a repeated
  header's values joined with ", "); the body is already decoded, whatever
  Content-Encoding says.
- No proxy is used, whatever the environment says: through a proxy the guard
  could not see where a request really goes.
- A feed URL may carry credentials (user:password@, `?api_key=`): every text
  this module makes shows URLs through bot.config.redact (each request is
  logged at DEBUG that way), and a `FeedClient` installs the log redaction for
  any other library's records. `FetchResult.final_url` is the real URL (minus
  user info): the base for the feed's relative links, never shown.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import logging
import ssl
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, TypeVar

import certifi

from bot.config.addresses import PUBLIC_ONLY, AddressPolicy, policy_for
from bot.config.redact import install_log_redaction, redact_text
from bot.headers import parse_max_age, parse_retry_after
from bot.ingest.fetch.body import ACCEPT_ENCODING, read_body
from bot.ingest.fetch.errors import FetchFailure, describe_http_error, total_timeout_text
from bot.ingest.fetch.guard import AddressRefusedError, Resolver, pinned_dialer, resolve_host
from bot.ingest.fetch.pool import pool_size
from bot.ingest.fetch.urls import (
    Trail,
    check_url,
    next_hop,
    read_url,
    redirect_note,
    request_head,
    shown,
    without_userinfo,
)
from bot.ingest.fetch.wire import Origin, Timeouts, WireError, WirePool, WireResponse
from bot.models import FeedConfig, FeedState, FetchResult, Settings, replace

__all__ = ["SYSTEM_NETWORK", "FeedClient", "Network", "fetch_all", "fetch_feed", "fetch_feeds"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Retry-After is meaningful on 503 and 429 (RFC 9110 §10.2.3, RFC 6585 §4).
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
# Seconds an idle connection is kept for the host's next feed.
_KEEPALIVE: Final = 5.0
_ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class Network:
    """How fetches find hosts and which they may reach.

    The system resolver and PUBLIC_ONLY for feeds without allow_private; tests
    give a resolver with a table of names and a policy that lets loopback
    through, so that a loopback feed server stands in for the internet.
    """

    resolver: Resolver = resolve_host
    policy: AddressPolicy = PUBLIC_ONLY


# The bot's own: the system resolver, public addresses only.
SYSTEM_NETWORK: Final = Network()


class FeedClient:
    """The connections of one fetch run; use `async with`.

    One pool per address policy (bot/config/addresses.py `policy_for`: the
    feed's allow_private and allow_addresses over `policy`), made when a feed
    first needs it; all resolve names through `resolver` and connect to the
    address it returned, once the policy allowed it (guard.py `pinned_dialer`).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver = resolve_host,
        policy: AddressPolicy = PUBLIC_ONLY,
    ) -> None:
        install_log_redaction()
        # Idle connections kept per host, not just `concurrency` of them (pool.py).
        size = pool_size(settings.concurrency, settings.per_host_concurrency)
        timeouts = Timeouts(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
        )

        def make(policy: AddressPolicy) -> WirePool:
            dial = pinned_dialer(resolver, policy, _ssl_context)
            return WirePool(dial, timeouts, max_idle=size, keepalive_expiry=_KEEPALIVE)

        self._make = make
        self._policy = policy
        self._pools: dict[AddressPolicy, WirePool] = {}
        self.user_agent = settings.user_agent.encode("latin-1", "replace")

    def pool_for(self, feed: FeedConfig) -> WirePool:
        policy = policy_for(feed.allow_private, feed.allow_addresses, base=self._policy)
        pool = self._pools.get(policy)
        if pool is None:
            pool = self._pools[policy] = self._make(policy)
        return pool

    def close_idle(self, origin: Origin) -> None:
        """Close the idle connections to `origin`: the run has no more feeds there."""
        for pool in self._pools.values():
            pool.close_idle(origin)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close()

    async def __aenter__(self) -> FeedClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process, made when the first https origin is dialled: loading
    the CA bundle takes 20-50 ms, which every poll of the running service and every
    `/brief feed add` paid again (and an http-only poll paid for nothing)."""
    return ssl.create_default_context(cafile=certifi.where())


def fetch_feeds(
    feeds: Sequence[FeedConfig],
    states: Mapping[str, FeedState],
    settings: Settings,
    *,
    on_result: Callable[[FetchResult], None] | None = None,
    resolver: Resolver = resolve_host,
    policy: AddressPolicy = PUBLIC_ONLY,
) -> list[FetchResult]:
    """Fetch every feed concurrently; return one result per feed, in feed order.

    At most `settings.concurrency` fetches run at once, and at most
    `settings.per_host_concurrency` against one host (the host of the feed's
    URL as configured), so a slow or dead feed holds only its own slots.
    `on_result` is called in completion order, on the event loop's thread, as
    each fetch ends (an exception it raises is logged and does not stop the
    others). Safe to call from any thread, including one
    that already runs an event loop (the work then runs on a helper thread).
    `resolver` and `policy` are those of `Network`.
    """

    async def run() -> list[FetchResult]:
        async with FeedClient(settings, resolver=resolver, policy=policy) as client:
            return await fetch_all(client, feeds, states, settings, on_result=on_result)

    return _run_coroutine(run)


async def fetch_all(
    client: FeedClient,
    feeds: Sequence[FeedConfig],
    states: Mapping[str, FeedState],
    settings: Settings,
    *,
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """The async body of `fetch_feeds`, for callers that already run a loop."""
    overall = asyncio.Semaphore(max(1, settings.concurrency))
    per_host: dict[str, asyncio.Semaphore] = {}
    results: list[FetchResult | None] = [None] * len(feeds)
    # Feeds still to fetch per origin: a connection kept past a host's last feed
    # only makes every later request check it (bot/ingest/fetch/pool.py).
    origins = [_origin_key(feed.url) for feed in feeds]
    remaining = collections.Counter(origin for origin in origins if origin is not None)

    async def fetch_one(index: int, feed: FeedConfig) -> None:
        key = _host_key(feed.url)
        host_slots = per_host.setdefault(
            key, asyncio.Semaphore(max(1, settings.per_host_concurrency))
        )
        # Host slot first, then a global one: a task waiting for a busy host
        # must not sit on a global slot that another host's feed could use.
        async with host_slots, overall:
            result = await fetch_feed(client, feed, states.get(feed.id), settings)
        origin = origins[index]
        if origin is not None:
            remaining[origin] -= 1
            if not remaining[origin]:
                client.close_idle(origin)
        results[index] = result
        if on_result is not None:
            try:
                on_result(result)
            except Exception:
                log.exception("on_result callback failed for feed %s", feed.id)

    await asyncio.gather(*(fetch_one(n, feeds[n]) for n in _largest_first(feeds, states)))
    return [r for r in results if r is not None]


def _largest_first(feeds: Sequence[FeedConfig], states: Mapping[str, FeedState]) -> list[int]:
    """The order to ask for `feeds` in (indexes): the largest last document first, so that
    its parsing overlaps the other downloads (one that came last was parsed alone, after
    them: 50 ms for 300 KB). Never fetched: 0 bytes; ties keep the feeds' order. Slots
    go in this order (asyncio's semaphores are first come, first served)."""
    sizes = [state.body_bytes if (state := states.get(f.id)) else 0 for f in feeds]
    return sorted(range(len(feeds)), key=lambda n: -sizes[n])


def _host_key(url: str) -> str:
    checked = read_url(url)
    # An invalid URL fails in fetch_feed, with its own message.
    return "" if isinstance(checked, str) else checked.host  # lower-case already


def _origin_key(url: str) -> Origin | None:
    checked = read_url(url)
    return None if isinstance(checked, str) else checked.origin


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # asyncio.run cannot nest: run on a thread of our own and wait for it
    # (this blocks the caller's loop, as any synchronous call would).
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="briefbot-fetch") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


async def fetch_feed(
    client: FeedClient,
    feed: FeedConfig,
    state: FeedState | None,
    settings: Settings,
) -> FetchResult:
    """Fetch one feed: a conditional GET within every limit of `settings`. Never raises."""
    started = time.monotonic()
    trail: Trail | None = None
    status: int | None = None
    try:
        trail = Trail(check_url(feed.url))
        deadline = asyncio.timeout(settings.total_timeout)
        try:
            async with deadline:
                result = await _fetch(client, feed, state, settings, trail)
        except TimeoutError:
            if deadline.expired():
                raise FetchFailure(total_timeout_text(settings, trail.url)) from None
            raise
        return replace(result, elapsed=time.monotonic() - started)
    except FetchFailure as exc:
        error, status = str(exc), exc.status_code
    except AddressRefusedError as exc:
        error = str(exc) + redirect_note(trail)
    except WireError as exc:
        error = describe_http_error(exc, settings, trail.url if trail else None)
        error += redirect_note(trail)
    except Exception as exc:
        log.exception("feed %s: unexpected error while fetching", feed.id)
        error = f"unexpected error: {type(exc).__name__}: {exc}"
    error = redact_text(error)  # a library's text may quote the URL
    final = str(without_userinfo(trail.url)) if trail is not None else None
    log.debug("feed %s: %s", feed.id, error)
    return FetchResult(
        feed_id=feed.id,
        url=feed.url,
        ok=False,
        status_code=status,
        final_url=final,
        error=error,
        elapsed=time.monotonic() - started,
    )


async def _fetch(
    client: FeedClient,
    feed: FeedConfig,
    state: FeedState | None,
    settings: Settings,
    trail: Trail,
) -> FetchResult:
    headers = [
        (b"User-Agent", client.user_agent),
        (b"Accept", _ACCEPT.encode()),
        (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
    ]
    if state is not None and state.etag:
        headers.append((b"If-None-Match", state.etag.encode("latin-1", "replace")))
    if state is not None and state.last_modified:
        headers.append((b"If-Modified-Since", state.last_modified.encode("latin-1", "replace")))
    pool = client.pool_for(feed)
    while True:
        url = trail.url
        response = await pool.get(url.origin, url.target.encode(), [*request_head(url), *headers])
        try:
            status = response.status_code
            log.debug("feed %s: GET %s: HTTP %d", feed.id, shown(url), status)
            if status in _REDIRECT_STATUSES:
                target = next_hop(
                    trail, status, response.header("location"), settings.max_redirects
                )
                trail.hops.append(trail.url)
                trail.url = target
                continue
            return await _result_from(response, feed, state, settings, trail)
        except FetchFailure as exc:
            exc.status_code = response.status_code
            raise
        finally:
            await response.aclose()


async def _result_from(
    response: WireResponse,
    feed: FeedConfig,
    state: FeedState | None,
    settings: Settings,
    trail: Trail,
) -> FetchResult:
    status = response.status_code
    headers = _joined(response.headers)
    final_url = str(without_userinfo(trail.url))
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    common: dict[str, Any] = {
        "feed_id": feed.id,
        "url": feed.url,
        "status_code": status,
        "final_url": final_url,
        "headers": headers,
    }
    if status == 304:
        # A 304 has no body, but until it is read to its end the connection is
        # not put back for the host's next feed: each 304 opened a new one.
        await response.aread()
        # RFC 9110 §15.4.5: a 304 should repeat the validators; keep ours if not.
        return FetchResult(
            ok=True,
            not_modified=True,
            etag=etag or (state.etag if state else None),
            last_modified=last_modified or (state.last_modified if state else None),
            max_age=parse_max_age(headers.get("cache-control"), headers.get("age")),
            **common,
        )
    if 200 <= status < 300:
        body = await read_body(response, settings.max_bytes)
        return FetchResult(
            ok=True,
            body=body,
            etag=etag,
            last_modified=last_modified,
            max_age=parse_max_age(headers.get("cache-control"), headers.get("age")),
            **common,
        )
    retry_after = None
    if status in _RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(headers.get("retry-after"), date=headers.get("date"))
    error = f"HTTP {status} {_status_phrase(response)}"
    if retry_after is not None:
        error += f" (Retry-After: {retry_after:g} s)"
    if trail.hops:
        error += f" from {shown(trail.url)}"
    return FetchResult(ok=False, error=error, retry_after=retry_after, **common)


def _joined(fields: list[tuple[str, str]]) -> dict[str, str]:
    """A response's header fields by lower-case name, a repeated one's values joined
    with ", " (RFC 9110 §5.3)."""
    headers: dict[str, str] = {}
    for name, value in fields:
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _status_phrase(response: WireResponse) -> str:
    # The standard phrase, not the server's text (which it fully controls).
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return "(non-standard status)"
