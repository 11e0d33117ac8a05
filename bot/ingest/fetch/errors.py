"""What a failed fetch says: one sentence for the operator per way a fetch can fail.

The texts go to the poll table, state.json and `/brief status`: they name the
host and the limit that was hit, in words ("connection refused", not
"[Errno 111] Connect call failed"), and never a URL's credentials.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bot.ingest.fetch import wire
from bot.models import Settings

if TYPE_CHECKING:
    from bot.ingest.fetch.urls import FeedURL

__all__ = [
    "FetchFailure",
    "describe_http_error",
    "os_error_text",
    "total_timeout_text",
]


class FetchFailure(Exception):
    """A failure already worded for the operator (and the HTTP status, if any)."""

    status_code: int | None = None


def os_error_text(exc: BaseException) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('127.0.0.1', 9)"."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _host_label(url: FeedURL) -> str:
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port is None else f"{host}:{url.port}"


def total_timeout_text(settings: Settings, url: FeedURL | None) -> str:
    """Why a fetch that ran out of `total_timeout` failed; `url` is where it had got to."""
    where = f" fetching from {_host_label(url)}" if url is not None else ""
    return (
        f"gave up after {settings.total_timeout:g} s{where}: the whole fetch took "
        "longer than total_timeout allows"
    )


def describe_http_error(exc: wire.WireError, settings: Settings, url: FeedURL | None) -> str:
    """A failure of wire.py as a sentence naming the host (`url`: where the fetch had got to)."""
    host = _host_label(url) if url is not None else "the server"
    if isinstance(exc, wire.ConnectTimeout):
        text = f"timed out after {settings.connect_timeout:g} s connecting to {host}"
    elif isinstance(exc, wire.ReadTimeout):
        text = f"timed out after {settings.read_timeout:g} s waiting for data from {host}"
    elif isinstance(exc, wire.WriteTimeout):
        text = f"timed out after {settings.read_timeout:g} s sending the request to {host}"
    elif isinstance(exc, wire.ConnectError):
        text = f"could not connect to {host}: {_connect_error_text(exc)}"
    elif isinstance(exc, wire.RemoteProtocolError):
        text = f"the server at {host} broke the HTTP protocol: {exc}"
    elif isinstance(exc, wire.ReadError):
        text = f"connection to {host} failed while reading: {os_error_text(exc)}"
    elif isinstance(exc, wire.WriteError):
        text = f"connection to {host} failed while sending: {os_error_text(exc)}"
    else:
        text = f"request to {host} failed: {type(exc).__name__}: {exc}"
    return text


def _connect_error_text(exc: wire.ConnectError) -> str:
    message = str(exc)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return f"TLS certificate not valid ({getattr(cause, 'verify_message', cause)})"
        cause = cause.__cause__ or cause.__context__
    if message:
        return message
    return os_error_text(exc)
