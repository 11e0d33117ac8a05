"""Secrets out of what people see: URLs with credentials replaced by `***`, tokens as set/not set.

Every text the config package produces (reprs, check-config, error messages)
shows URLs through `redact_url`, so no token or password reaches a log or a
Slack reply. A query parameter is a secret by its name's words ("access_token",
"apiKey", "X-Amz-Signature"), not by its value.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["redact_url", "set_or_not"]

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


def set_or_not(value: str | None) -> str:
    """How a secret is shown: "set" or "not set", never its value."""
    return "set" if value else "not set"
