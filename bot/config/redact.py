"""Secrets out of what people see: URLs with credentials replaced by `***`, tokens as set/not set.

Every text the config package produces (reprs, check-config, error messages)
shows URLs through `redact_url`, so no token or password reaches a log or a
Slack reply. A query parameter is a secret by its name's words ("access_token",
"apiKey", "X-Amz-Signature", "sig", "auth"; any case), not by its value: one
rule, `_is_secret_name`, for every function here.

`redact_text` applies the same rule to free text (an error sentence, a log
line, a header list): the user info of any `scheme://…@`, and every
`?name=`, `&name=`, `;name=` (`&amp;`) or `#name=` value whose name is a
secret, whether the URL around it is absolute or not.

It also hides every value registered with `hide_secret` (the language
model's key, BRIEFBOT_LLM_KEY, registered by bot.llm when its client is made)
wherever it appears, and the credential after `Bearer ` (an Authorization
header a library shows).

`install_log_redaction` makes every log record of the process pass through
`redact_text` when it is made (a record factory), before any handler sees
it: httpx (the language model's client) logs each request URL at INFO, with
user info and query, httpcore response headers at DEBUG, the fetcher each
request at DEBUG. A filter on our own
handlers would miss the handlers others add (a test's caplog, an embedding
application's), and a logger filter misses child loggers.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["hide_secret", "install_log_redaction", "redact_text", "redact_url", "set_or_not"]

_SECRET_WORDS = frozenset(
    {
        "token",
        "key",
        "apikey",
        "secret",
        "password",
        "passwd",
        "pwd",
        "pass",
        "auth",
        "signature",
        "sig",
        "credential",
        "credentials",
        "session",
        "sessionid",
    }
)
_SECRET_SUFFIXES = ("token", "apikey", "secret", "password", "passwd")


def _is_secret_name(name: str) -> bool:
    # "access_token", "apiKey", "X-Amz-Signature", "authtoken" are secrets;
    # "keywords" or "conditions[term]" are not.
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", unquote(name))
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words)


def redact_url(url: str) -> str:
    """`url` with any user:password@ and secret-looking query values replaced by `***`.

    The rest of the query is kept byte for byte (its percent-encoding included).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}=***" if sep and _is_secret_name(name) else f"{name}{sep}{value}"
        for name, sep, value in (pair.partition("=") for pair in parts.query.split("&"))
    )
    fragment = parts.fragment
    if "=" in fragment and any(
        _is_secret_name(pair.partition("=")[0]) for pair in fragment.split("&")
    ):
        fragment = "***"  # OAuth implicit flows put tokens in the fragment
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


# `scheme://user:password@`: up to the last "@" before the path, query or fragment.
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#'\"<>]*@")
# `?name=value` and its kin in running text; a value ends at the next separator,
# whitespace or quote (httpcore shows headers as b'/feed?token=…').
_PARAMETER = re.compile(r"([?&;#])([^\s=&;#?'\"<>]+)=([^\s&;#'\"<>]*)")


# `Authorization: Bearer <credential>` and its kin, in running text or a repr of headers.
_BEARER = re.compile(r"\bBearer\s+[^\s'\"<>,;*]{8,}")

# Secret values known to the process (`hide_secret`); read without the lock (a tuple).
_hidden: tuple[str, ...] = ()
_hidden_lock = threading.Lock()
_MIN_HIDDEN = 8  # a shorter "secret" would blank out ordinary words


def hide_secret(value: str | None) -> None:
    """From now on `redact_text` (and so every log record) shows `value` as `***`."""
    global _hidden
    value = (value or "").strip()
    if len(value) < _MIN_HIDDEN:
        return
    with _hidden_lock:
        if value not in _hidden:
            _hidden = (*_hidden, value)


def _hide_parameter(match: re.Match[str]) -> str:
    lead, name, value = match.groups()
    if value.startswith("***") or not _is_secret_name(name):
        return match.group()  # already hidden (its ")" after it kept), or no secret
    return f"{lead}{name}=***"


def redact_text(text: str) -> str:
    """`text` with the user info of every URL and every secret-named parameter value as `***`."""
    for value in _hidden:
        if value in text:
            text = text.replace(value, "***")
    if "@" in text:
        text = _USERINFO.sub(r"\1***@", text)
    if "Bearer" in text:
        text = _BEARER.sub("Bearer ***", text)
    if "=" in text:
        text = _PARAMETER.sub(_hide_parameter, text)
    return text


_TRACEBACKS = logging.Formatter()


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # bad %-arguments: the handler reports them, as without us
        return
    shown = redact_text(message)
    if shown != message:
        record.msg, record.args = shown, ()
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = _TRACEBACKS.formatException(record.exc_info)
        shown = redact_text(text)
        if shown != text:
            record.exc_text = shown  # formatters use it instead of formatting again


class _RedactingFactory:
    """A log record factory: the one it wraps makes the record, `_redact_record` cleans it."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        _redact_record(record)
        return record


_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """From now on, every log record of the process (any library's) is redacted when made.

    Idempotent; wraps the record factory in place, so one set later by someone
    else is kept inside ours. Records are only made for enabled levels, so the
    cost is one `getMessage()` per record that is logged anyway.
    """
    with _install_lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(current))


def set_or_not(value: str | None) -> str:
    """How a secret is shown: "set" or "not set", never its value."""
    return "set" if value else "not set"
