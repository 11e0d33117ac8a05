"""How a feed URL's host is read: the one normaliser of config, overrides and fetch.

`normalize_host` turns a host as written into the ASCII name or the address a
resolver would be asked for, by UTS 46 (the `idna` package: the mapping
browsers apply), or refuses it (`InvalidHostError`, a ValueError whose text
says why). The feeds.yaml checker, `/brief feed add` and the fetcher all read
hosts through it, so the address policy (bot/config/addresses.py) judges the
host that will really be dialled, not the characters that were typed:
`ｌｏｃａｌｈｏｓｔ` is localhost, `①②⑦.0.0.1` and `127。0。0。1` are 127.0.0.1.

Not obvious:
- Labels that are ASCII after the mapping are checked as DNS has them
  (letters, digits, `-`, `_`), not by IDNA 2008: real host names such as
  `r4---sn-abc.googlevideo.com` or `a_b.example` break IDNA 2008's rules but
  resolve, and the fetcher fetches them. A `xn--` label must decode (one that
  does not names no host). Non-ASCII labels must be valid IDNA 2008 and become `xn--`.
- `%` is refused: a percent-encoded host (`a%0d%0ab.example`) is never decoded
  by the fetcher, so no resolver could ever answer for it.
- An IP literal (IPv6 in brackets, with or without a zone) is returned as
  written, without brackets, in lower case; inet_aton's numeric forms
  (`0x7f.1`) are names here, left to the address policy, which reads them as
  the IPv4 addresses they stand for.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

import idna

__all__ = ["InvalidHostError", "normalize_host", "normalize_url"]

_ASCII_LABEL: Final = re.compile(r"[a-z0-9_-]{1,63}")
_MAX_NAME: Final = 253


class InvalidHostError(ValueError):
    """A host no resolver could be asked for; `str(error)` says why."""


def normalize_host(host: str) -> str:
    """`host` as it will be resolved (lower-case ASCII, `xn--` labels), or InvalidHostError.

    Brackets around an IPv6 literal are dropped; a trailing dot is kept.
    """
    literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        return literal.lower()
    if not host:
        raise InvalidHostError("the host name is empty")
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except (idna.IDNAError, ValueError) as exc:
        raise InvalidHostError(f"{_quote(host)} is not a valid host name ({exc})") from None
    name = mapped.removesuffix(".")
    labels = [_label(label, host) for label in name.split(".")]
    result = ".".join(labels)
    if len(result) > _MAX_NAME:
        raise InvalidHostError(f"the host name is longer than {_MAX_NAME} characters")
    return result + mapped[len(name) :]


def _label(label: str, host: str) -> str:
    if not label:
        raise InvalidHostError(f"{_quote(host)} has an empty label (two dots in a row)")
    if not label.isascii():
        try:
            return idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InvalidHostError(f"{_quote(host)} is not a valid host name ({exc})") from None
    if not _ASCII_LABEL.fullmatch(label):
        bad = next((c for c in label if not (c.isalnum() or c in "-_")), None)
        if bad == "%":
            what = "a percent-encoded character (a host name is never percent-decoded)"
        else:
            what = f"the character {bad!r}" if bad else "a label over 63 characters"
        raise InvalidHostError(f"{_quote(host)} is not a valid host name: it has {what}")
    if label.startswith("xn--"):
        try:
            idna.ulabel(label)
        except (idna.IDNAError, UnicodeError, ValueError):
            raise InvalidHostError(
                f"{_quote(host)} is not a valid host name: {label} is not valid punycode"
            ) from None
    return label


def _quote(host: str) -> str:
    return repr(host) if any(not c.isprintable() for c in host) else host


def normalize_url(url: str) -> str:
    """`url` with its host normalised (the rest exactly as written); InvalidHostError.

    A URL without a host, or whose host is already normal, is returned as it is.
    """
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        return url
    normal = normalize_host(host)
    if normal == host:
        return url
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if hostport.startswith("["):
        rest = hostport[hostport.index("]") + 1 :]
        written = f"[{normal}]"
    else:
        rest = hostport[len(hostport.partition(":")[0]) :]
        written = f"[{normal}]" if ":" in normal else normal
    head, slashes, tail = url.partition("//")
    if not slashes or not tail.startswith(parts.netloc):
        return url  # not written as scheme://netloc (urlsplit would not find a host)
    return f"{head}//{userinfo}{at}{written}{rest}{tail[len(parts.netloc) :]}"
