"""Fetch feeds over HTTP(S): conditional GET, hard limits, and a private-address guard.

The one module that imports httpx. `fetch_feeds` is the synchronous entry point
(it runs its own event loop, from any thread); `fetch_feed` fetches one feed on
a `FeedClient`. Neither raises for a feed's failure: every failure becomes a
`FetchResult` with `ok=False` and an error text meant for the operator.

Not obvious:
- Redirects are followed by hand (at most `max_redirects`), so every hop is
  checked: http(s) only, no https -> http downgrade, no loops.
- Bodies are decompressed here, not by httpx, a bounded piece at a time:
  httpx's decoder inflates a whole 64 KiB network read at once, which for a
  gzip bomb is ~64 MiB of zeros before any cap can look at it. `max_bytes`
  applies to the decoded bytes, while streaming.
- The address guard lives in the connection layer (`_PinnedBackend`): the host
  is resolved once, every address is checked, and the socket is opened to the
  checked address itself. Checking a name and then letting the library resolve
  it again would leave a DNS-rebinding window between check and connect.
  TLS still verifies the certificate against the host name (httpcore passes the
  URL's host as SNI / server_hostname, not the address we dial).
- `FetchResult.headers` are the response's as received, lower-cased; the
  body is already decoded, whatever Content-Encoding says.
- Proxy variables from the environment are ignored (trust_env=False): through a
  proxy the guard could not see where a request really goes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import logging
import os
import socket
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, TypeVar

import httpcore
import httpx

from bot.headers import parse_max_age, parse_retry_after
from bot.models import FeedConfig, FeedState, FetchResult, Settings, replace

__all__ = [
    "BLOCKED_NETWORKS",
    "AddressRefusedError",
    "FeedClient",
    "Resolver",
    "classify_address",
    "fetch_feed",
    "fetch_feeds",
    "resolve_host",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# An async function host, port -> IP address strings (IPv4 or IPv6), in the
# order to try them. Raises OSError (socket.gaierror) when the name is unknown.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Where a feed may not point unless it sets allow_private (IANA special-purpose
# registries, RFC 6890). Checked in order; the first match names the reason.
BLOCKED_NETWORKS: Final[tuple[tuple[_IPNetwork, str], ...]] = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("127.0.0.0/8", "a loopback address"),
        ("::1/128", "a loopback address"),
        ("0.0.0.0/8", "an unspecified address"),
        ("::/128", "an unspecified address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        # Includes 169.254.169.254, the cloud instance-metadata endpoint.
        ("169.254.0.0/16", "a link-local address"),
        ("fe80::/10", "a link-local address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("fc00::/7", "a unique-local address"),
        ("224.0.0.0/4", "a multicast address"),
        ("ff00::/8", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_NAT64_PREFIX: Final = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
# Retry-After is meaningful on 503 and 429 (RFC 9110 §10.2.3, RFC 6585 §4).
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
_ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
# Only what _BodyDecoder can decode, whatever optional codecs httpx may find.
_ACCEPT_ENCODING: Final = "gzip, deflate"
# Largest piece the decoder inflates in one step (bounds memory for bombs).
_DECODE_PIECE: Final = 64 * 1024


class AddressRefusedError(Exception):
    """A feed's host is, or resolves to, an address the guard does not allow."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        if _strip_brackets(host) == address:
            what = f"{address} is {reason}"
        else:
            what = f"{host} resolves to {address}, {reason}"
        super().__init__(f"refused: {what} (set allow_private: true to allow)")


class _FetchFailure(Exception):
    """A failure already worded for the operator (and the HTTP status, if any)."""

    status_code: int | None = None


# -- addresses ---------------------------------------------------------------


async def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver (getaddrinfo), without blocking the event loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def classify_address(
    address: str | _IPAddress,
    blocked: Iterable[tuple[_IPNetwork, str]] = BLOCKED_NETWORKS,
) -> str | None:
    """Why `address` is not a public address ("a loopback address", ...), or None.

    IPv4 addresses embedded in IPv6 (IPv4-mapped ::ffff:a.b.c.d, NAT64
    64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they reach.
    Anything else that is not globally routable (documentation, benchmarking and
    other special-purpose ranges) is refused too.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    blocked = tuple(blocked)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        inner: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64_PREFIX:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            reason = classify_address(inner, blocked)
            return None if reason is None else f"{reason} (IPv4 {inner})"
    for network, label in blocked:
        if ip.version == network.version and ip in network:
            return label
    if ip.is_global or _is_exempted(ip, blocked):
        return None
    return "not a public address"


def _is_exempted(ip: _IPAddress, blocked: tuple[tuple[_IPNetwork, str], ...]) -> bool:
    # A caller that removed a range from `blocked` (tests serving on loopback
    # through the guard) means it: do not refuse that range as "not public".
    default = {net for net, _ in BLOCKED_NETWORKS}
    removed = default - {net for net, _ in blocked}
    return any(ip.version == net.version and ip in net for net in removed)


def _strip_brackets(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


# -- connection layer: resolve, check, pin -----------------------------------


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to addresses resolved and checked here, never by name.

    `blocked=None` turns the check off (feeds with allow_private) but keeps the
    same resolver, so an injected resolver serves both kinds of feed.
    """

    def __init__(
        self, resolver: Resolver, blocked: tuple[tuple[_IPNetwork, str], ...] | None
    ) -> None:
        self._resolver = resolver
        self._blocked = blocked
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        addresses = await self._resolve(host, port, timeout)
        if self._blocked is not None:
            # Refuse when any address is off limits, not just the first: a name
            # must not smuggle an internal address in behind a public one.
            for address in addresses:
                reason = classify_address(address, self._blocked)
                if reason is not None:
                    raise AddressRefusedError(host, address, reason)
        failures: list[str] = []
        for address in addresses:
            remaining = None if deadline is None else max(0.001, deadline - loop.time())
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                reason = _os_error_text(exc)
                failures.append(reason if address == host else f"{address}: {reason}")
        raise httpcore.ConnectError("; ".join(failures))

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        host = _strip_brackets(host)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [host]  # an IP literal: nothing to resolve, nothing to race
        try:
            async with asyncio.timeout(timeout):
                answers = list(await self._resolver(host, port))
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host}") from None
        except OSError as exc:
            detail = exc.strerror or str(exc) or type(exc).__name__
            raise httpcore.ConnectError(f"could not resolve host name: {detail}") from exc
        addresses: list[str] = []
        for answer in answers:
            try:
                addresses.append(str(ipaddress.ip_address(answer)))
            except ValueError:
                raise httpcore.ConnectError(f"resolver gave {answer!r}, not an address") from None
        if not addresses:
            raise httpcore.ConnectError("could not resolve host name: no addresses")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never configured
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _os_error_text(exc: BaseException) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('127.0.0.1', 9)"."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool built on `_PinnedBackend`.

    AsyncHTTPTransport takes no network backend; its request handling only
    goes through `self._pool`, so the pool is replaced after construction.
    tests/test_fetch.py checks that connections really use the backend.
    """

    def __init__(self, backend: _PinnedBackend, ssl_context: Any, limits: httpx.Limits) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )


class FeedClient:
    """The HTTP clients of one fetch run; use `async with`.

    Feeds with `allow_private` get a client without the address guard, all
    others the guarded one; both resolve names through `resolver` and connect to
    the address it returned. `blocked_networks` is the guard's table (tests may
    pass a reduced one to exercise redirect checks on loopback).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver = resolve_host,
        blocked_networks: Iterable[tuple[_IPNetwork, str]] = BLOCKED_NETWORKS,
    ) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        size = max(1, settings.concurrency)
        limits = httpx.Limits(
            max_connections=size, max_keepalive_connections=size, keepalive_expiry=5.0
        )
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.total_timeout,
        )

        def make(blocked: tuple[tuple[_IPNetwork, str], ...] | None) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=_PinnedTransport(_PinnedBackend(resolver, blocked), ssl_context, limits),
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
                headers={"User-Agent": settings.user_agent},
            )

        self._guarded = make(tuple(blocked_networks))
        self._open = make(None)

    def client_for(self, feed: FeedConfig) -> httpx.AsyncClient:
        return self._open if feed.allow_private else self._guarded

    async def aclose(self) -> None:
        await self._guarded.aclose()
        await self._open.aclose()

    async def __aenter__(self) -> FeedClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# -- many feeds --------------------------------------------------------------


def fetch_feeds(
    feeds: Sequence[FeedConfig],
    states: Mapping[str, FeedState],
    settings: Settings,
    *,
    on_result: Callable[[FetchResult], None] | None = None,
    resolver: Resolver = resolve_host,
    blocked_networks: Iterable[tuple[_IPNetwork, str]] = BLOCKED_NETWORKS,
) -> list[FetchResult]:
    """Fetch every feed concurrently; return one result per feed, in feed order.

    At most `settings.concurrency` fetches run at once, and at most
    `settings.per_host_concurrency` against one host (the host of the feed's
    URL as configured), so a slow or dead feed holds only its own slots.
    `on_result` is called in completion order, on the event loop's thread, as
    each fetch ends (an exception it raises is logged and does not stop the
    others). Safe to call from any thread, including one
    that already runs an event loop (the work then runs on a helper thread).
    """

    async def run() -> list[FetchResult]:
        async with FeedClient(
            settings, resolver=resolver, blocked_networks=blocked_networks
        ) as client:
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

    async def fetch_one(index: int, feed: FeedConfig) -> None:
        key = _host_key(feed.url)
        host_slots = per_host.setdefault(
            key, asyncio.Semaphore(max(1, settings.per_host_concurrency))
        )
        # Host slot first, then a global one: a task waiting for a busy host
        # must not sit on a global slot that another host's feed could use.
        async with host_slots, overall:
            result = await fetch_feed(client, feed, states.get(feed.id), settings)
        results[index] = result
        if on_result is not None:
            try:
                on_result(result)
            except Exception:
                log.exception("on_result callback failed for feed %s", feed.id)

    await asyncio.gather(*(fetch_one(n, feed) for n, feed in enumerate(feeds)))
    return [r for r in results if r is not None]


def _host_key(url: str) -> str:
    try:
        return httpx.URL(url).host.lower()
    except Exception:  # an invalid URL fails in fetch_feed, with its own message
        return ""


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    # asyncio.run cannot nest: run on a thread of our own and wait for it
    # (this blocks the caller's loop, as any synchronous call would).
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="briefbot-fetch") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


# -- one feed ----------------------------------------------------------------


@dataclass
class _Trail:
    """Where a fetch has got to, for error texts."""

    url: httpx.URL
    hops: list[httpx.URL] = field(default_factory=list)


async def fetch_feed(
    client: FeedClient,
    feed: FeedConfig,
    state: FeedState | None,
    settings: Settings,
) -> FetchResult:
    """Fetch one feed: a conditional GET within every limit of `settings`. Never raises."""
    started = time.monotonic()
    trail: _Trail | None = None
    status: int | None = None
    try:
        trail = _Trail(_check_url(feed.url))
        deadline = asyncio.timeout(settings.total_timeout)
        try:
            async with deadline:
                result = await _fetch(client.client_for(feed), feed, state, settings, trail)
        except TimeoutError:
            if deadline.expired():
                raise _FetchFailure(_total_timeout_text(settings, trail)) from None
            raise
        return replace(result, elapsed=time.monotonic() - started)
    except _FetchFailure as exc:
        error, status = str(exc), exc.status_code
    except AddressRefusedError as exc:
        error = str(exc) + _redirect_note(trail)
    except httpx.HTTPError as exc:
        error = _describe_http_error(exc, settings, trail)
    except Exception as exc:
        log.exception("feed %s: unexpected error while fetching", feed.id)
        error = f"unexpected error: {type(exc).__name__}: {exc}"
    final = str(_without_userinfo(trail.url)) if trail is not None else None
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
    http: httpx.AsyncClient,
    feed: FeedConfig,
    state: FeedState | None,
    settings: Settings,
    trail: _Trail,
) -> FetchResult:
    headers = {"Accept": _ACCEPT, "Accept-Encoding": _ACCEPT_ENCODING}
    if state is not None and state.etag:
        headers["If-None-Match"] = state.etag
    if state is not None and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    while True:
        try:
            response = await http.send(
                http.build_request("GET", trail.url, headers=headers), stream=True
            )
        except httpx.InvalidURL as exc:
            # httpx parses a redirect's Location even when not following it
            # (Response.next_request) and refuses one with no host, such as
            # "javascript:alert(1)//x", before `_next_hop` sees the response.
            raise _FetchFailure(f"redirect to an invalid URL refused: {exc}") from None
        try:
            status = response.status_code
            if status in _REDIRECT_STATUSES:
                target = _next_hop(trail, response, settings.max_redirects)
                trail.hops.append(trail.url)
                trail.url = target
                continue
            return await _result_from(response, feed, state, settings, trail)
        except _FetchFailure as exc:
            exc.status_code = response.status_code
            raise
        finally:
            await response.aclose()


async def _result_from(
    response: httpx.Response,
    feed: FeedConfig,
    state: FeedState | None,
    settings: Settings,
    trail: _Trail,
) -> FetchResult:
    status = response.status_code
    headers = {name.lower(): value for name, value in response.headers.items()}
    final_url = str(_without_userinfo(trail.url))
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
        body = await _read_body(response, settings.max_bytes)
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
        error += f" from {final_url}"
    return FetchResult(ok=False, error=error, retry_after=retry_after, **common)


def _status_phrase(response: httpx.Response) -> str:
    # The standard phrase, not the server's text (which it fully controls).
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return "(non-standard status)"


def _check_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise _FetchFailure(f"not a valid URL: {exc}") from None
    # Shown as configured (httpx rewrites file:///x as file:/x), minus credentials.
    shown = str(_without_userinfo(parsed)) if parsed.userinfo else url.strip()
    if parsed.scheme not in ("http", "https"):
        raise _FetchFailure(f"not an http(s) URL: {shown}")
    if not parsed.host:
        raise _FetchFailure(f"not a valid URL (no host): {shown}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise _FetchFailure(f"not a valid URL (port {parsed.port} out of range)")
    return parsed


def _next_hop(trail: _Trail, response: httpx.Response, max_redirects: int) -> httpx.URL:
    status = response.status_code
    location = response.headers.get("location")
    if not location:
        raise _FetchFailure(f"HTTP {status} redirect without a Location header")
    try:
        target = trail.url.join(location.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise _FetchFailure(f"HTTP {status} redirect to an invalid URL: {exc}") from None
    if target.scheme not in ("http", "https"):
        # Shown as the server wrote it (joining rewrites file:///x as file:/x).
        shown = location.strip() if not target.userinfo else str(_without_userinfo(target))
        raise _FetchFailure(f"redirect to a non-http(s) URL refused: {shown[:200]}")
    if trail.url.scheme == "https" and target.scheme == "http":
        # A plain-http hop would let anyone on the path rewrite the feed.
        raise _FetchFailure(
            f"redirect from https to plain http refused: {_without_userinfo(target)}"
        )
    chain = [*trail.hops, trail.url]
    if target in chain:
        shown = " -> ".join(str(_without_userinfo(u)) for u in [*chain, target])
        raise _FetchFailure(f"redirect loop: {shown}")
    if len(trail.hops) >= max_redirects:
        raise _FetchFailure(f"too many redirects (more than {max_redirects})")
    return target


def _without_userinfo(url: httpx.URL) -> httpx.URL:
    # Credentials in a feed URL must never reach logs or error texts.
    return url.copy_with(userinfo=b"") if url.userinfo else url


def _redirect_note(trail: _Trail | None) -> str:
    if trail is None or not trail.hops:
        return ""
    return f" (reached by redirect from {_without_userinfo(trail.hops[-1])})"


def _host_label(url: httpx.URL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port is None else f"{host}:{url.port}"


def _total_timeout_text(settings: Settings, trail: _Trail | None) -> str:
    where = f" fetching from {_host_label(trail.url)}" if trail is not None else ""
    return (
        f"gave up after {settings.total_timeout:g} s{where}: the whole fetch took "
        "longer than total_timeout allows"
    )


def _describe_http_error(exc: httpx.HTTPError, settings: Settings, trail: _Trail | None) -> str:
    host = _host_label(trail.url) if trail is not None else "the server"
    note = _redirect_note(trail)
    if isinstance(exc, httpx.ConnectTimeout):
        text = f"timed out after {settings.connect_timeout:g} s connecting to {host}"
    elif isinstance(exc, httpx.ReadTimeout):
        text = f"timed out after {settings.read_timeout:g} s waiting for data from {host}"
    elif isinstance(exc, httpx.WriteTimeout):
        text = f"timed out after {settings.read_timeout:g} s sending the request to {host}"
    elif isinstance(exc, httpx.PoolTimeout):
        text = f"no free connection for {host} within {settings.total_timeout:g} s"
    elif isinstance(exc, httpx.ConnectError):
        text = f"could not connect to {host}: {_connect_error_text(exc)}"
    elif isinstance(exc, httpx.RemoteProtocolError):
        text = f"the server at {host} broke the HTTP protocol: {exc}"
    elif isinstance(exc, httpx.ReadError):
        text = f"connection to {host} failed while reading: {_os_error_text(exc)}"
    elif isinstance(exc, httpx.WriteError):
        text = f"connection to {host} failed while sending: {_os_error_text(exc)}"
    else:
        text = f"request to {host} failed: {type(exc).__name__}: {exc}"
    return text + note


def _connect_error_text(exc: httpx.ConnectError) -> str:
    message = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return f"TLS certificate not valid ({getattr(cause, 'verify_message', cause)})"
        cause = cause.__cause__ or cause.__context__
    if message:
        return message
    return _os_error_text(exc)


# -- bodies ------------------------------------------------------------------


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _FetchFailure(
            f"response larger than the {_format_size(limit)} limit "
            f"(Content-Length: {int(declared)} bytes)"
        )
    decoder = _BodyDecoder(response.headers.get("content-encoding"))
    body = bytearray()

    def add(piece: bytes) -> None:
        body.extend(piece)
        if len(body) > limit:
            raise _FetchFailure(f"response larger than the {_format_size(limit)} limit")

    async for raw in response.aiter_raw():
        for piece in decoder.decode(raw):
            add(piece)
    for piece in decoder.flush():
        add(piece)
    return bytes(body)


class _BodyDecoder:
    """Undoes one Content-Encoding (identity, gzip, deflate) in bounded pieces."""

    def __init__(self, content_encoding: str | None) -> None:
        coding = (content_encoding or "identity").strip().lower()
        self._coding = coding
        if coding in ("identity", ""):
            self._mode = "identity"
        elif coding in ("gzip", "x-gzip"):
            self._mode = "gzip"
        elif coding == "deflate":
            self._mode = "deflate"
        else:
            raise _FetchFailure(f"unsupported Content-Encoding {content_encoding!r}")
        self._inflater = self._new_inflater()
        self._started = False

    def _new_inflater(self, *, raw: bool = False) -> Any:
        if self._mode == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        # RFC 9110 §8.4.1.2: "deflate" is the zlib format, but some servers send
        # a bare deflate stream; fall back to that when the zlib header is wrong.
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        if self._mode == "identity":
            if data:
                yield data
            return
        pending = data
        while pending:
            try:
                out = self._inflater.decompress(pending, _DECODE_PIECE)
            except zlib.error as exc:
                if self._mode == "deflate" and not self._started:
                    self._inflater = self._new_inflater(raw=True)
                    self._started = True
                    continue
                raise _FetchFailure(f"could not decode the {self._coding} body: {exc}") from None
            self._started = True
            if out:
                yield out
            if self._inflater.eof:
                rest = self._inflater.unused_data
                # A gzip body may hold several members (RFC 1952 §2.2); other
                # trailing bytes are ignored, as browsers do.
                if self._mode != "gzip" or not rest.startswith(b"\x1f\x8b"):
                    self._mode = "identity-done"
                    return
                self._inflater = self._new_inflater()
                pending = rest
                continue
            tail = self._inflater.unconsumed_tail
            if not out and tail == pending:
                return  # no progress: wait for more input
            pending = tail

    def flush(self) -> Iterator[bytes]:
        if self._mode in ("gzip", "deflate"):
            rest = self._inflater.flush()
            if rest:
                yield rest


def _format_size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
