"""Links of feed items: the canonical link, its identity form, and Federal Register numbers.

A canonical link (`canonicalize_link`, what an item shows) is resolved
against the feed's URL (RFC 3986 §5), with the fragment, user info, default
port and click-tracking parameters dropped. Its output is frozen: release
0.1 stored identities built from it, and `bot.ingest.identity` recomputes
them to recognise items stored then. Changes to what counts as the same link
go into `identity_link` instead.

The identity form (`identity_link`) is what item identity and same-story
linking compare, so that a link that churns between polls is one link:
- the scheme is written `https` for http and https alike (publishers flip
  between them, or move to https), the host lower-cased and without a final
  dot, default ports dropped;
- a trailing slash is dropped (`/a/b/` is `/a/b`), percent-escapes are
  upper-cased and unreserved characters decoded (RFC 3986 §6.2.2);
- tracking parameters are dropped (miniflux's list, `urlcleaner.go`, plus
  ours), and session parameters: `phpsessid`, `jsessionid` and friends
  always, `sid` only when its value looks like a session token: 16 or more
  letters and digits, both present, nothing else (phpBB's 32 hex digits).
  A `sid` can also be a story id (Slashdot's `sid=26/11/18/1234567`,
  PostNuke's `sid=123`, a slug, a long number), which must stay;
- the remaining parameters are sorted, so a reordering is no change.
The fragment is dropped from links; a GUID keeps it (`keep_fragment`), as
comment feeds tell comments apart by it (`/post/#comment-12`).

A Federal Register document keeps its number across URL forms and
title-slug changes, so `fr_document_number` gives items their `fr:` id.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote_plus, urljoin, urlsplit

__all__ = ["canonicalize_link", "fr_document_number", "identity_link"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
        "ref_src", "ref_url", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "vero_conv", "_openstat", "rb_clickid", "s_cid", "ncid", "_ga", "_gl",
        "wt.mc_id", "spm", "cmpid", "sr_share",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__hs")

# For identity only: miniflux's parameters that `_TRACKING_PARAMS` lacks.
_IDENTITY_TRACKING_PARAMS = _TRACKING_PARAMS | frozenset(
    {
        "fb_action_ids", "fb_action_types", "fb_ref", "fb_source", "fb_comment_id",
        "hmb_campaign", "hmb_medium", "hmb_source", "itm_campaign", "itm_medium",
        "itm_source", "gclsrc", "campaign_id", "campaign_medium", "campaign_name",
        "campaign_source", "campaign_term", "campaign_content", "srsltid", "ysclid",
        "mc_tc", "wickedid", "hsctatracking", "sc_cid", "_bhlid", "_branch_match_id",
        "_branch_referrer", "__readwiselocation",
    }
)  # fmt: skip
# Session parameters: never part of what a link names.
_SESSION_PARAMS = frozenset({"phpsessid", "jsessionid", "sessionid", "session_id", "sessid"})
_SESSION_TOKEN = re.compile(r"(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{16,}")
_TABS = re.compile(r"[\t\r\n]")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

# An http(s) URL of a plain host: urlsplit's parts, `_split`'s fast path.
# (ASCII: under re.I alone, [a-z] also matches the Kelvin sign and the long s; urlsplit
# deletes tabs and newlines anywhere, so a text holding one is left to it.)
_PLAIN_URL = re.compile(
    r"(https?)://([a-z0-9.-]+)(/[^?#\t\n\r]*)?(?:\?([^#\t\n\r]*))?(?:#([^\t\n\r]*))?\Z",
    re.I | re.A,
)


class _Parts(NamedTuple):
    scheme: str  # lower-cased
    host: str | None
    port: int | None
    path: str
    query: str
    fragment: str


_FR_PATH = re.compile(
    r"^/(?:documents/\d{4}/\d{1,2}/\d{1,2}|d|api/v1/documents|documents|"
    r"public-inspection(?:/\d{4}/\d{1,2}/\d{1,2})?)/([^/.?#]+)"
)
_FR_NUMBER = re.compile(r"^[A-Za-z0-9]{1,4}(?:-[A-Za-z0-9]{1,8}){1,3}$")


def canonicalize_link(raw: str, base: str = "") -> str | None:
    """The canonical form of a link, or None when it is not an http(s) URL.

    Resolved against `base` (RFC 3986 §5), fragment dropped, scheme and host
    lower-cased, default port and user info dropped, empty path made `/`
    (RFC 3986 §6.2.3), tracking parameters removed, other parameters kept
    byte for byte and in order.
    """
    # The WHATWG URL parser drops tabs and newlines anywhere in a URL.
    text = _without_tabs(raw).strip()
    if not text or (not base and ":" not in text):  # no scheme: not a URL (a GUID "1234")
        return None
    if base and not _joins_to_itself(text):
        try:
            text = urljoin(base, text)
        except ValueError:  # (an IPv6 host without its "]")
            return None
    parts = _split(text)
    if parts is None:
        return None
    scheme, host, port, path, query, _ = parts
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = (path or "/").replace(" ", "%20")
    query = _strip_tracking_params(query).replace(" ", "%20") if query else ""
    # urlunsplit's result, `path` starting with "/" and `netloc` not empty.
    return f"{scheme}://{netloc}{path}?{query}" if query else f"{scheme}://{netloc}{path}"


def identity_link(url: str, *, keep_fragment: bool = False) -> str | None:
    """The identity form of an absolute http(s) URL (see the module docstring), else None."""
    text = _without_tabs(url).strip()
    if ":" not in text:  # no scheme: not a URL
        return None
    parts = _split(text)
    if parts is None:
        return None
    scheme, host, port, path, query, fragment = parts
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    host = host.rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = _normalize_escapes(path.replace(" ", "%20")).rstrip("/") or "/"
    query = "&".join(sorted(_identity_params(query))) if query else ""
    fragment = _normalize_escapes(fragment) if keep_fragment else ""
    # urlunsplit's result, `path` starting with "/": a host of dots only leaves no
    # netloc, and then a path starting "//" is not given another "//".
    url = f"https:{path}" if not netloc and path.startswith("//") else f"https://{netloc}{path}"
    if query:
        url = f"{url}?{query}"
    return f"{url}#{fragment}" if fragment else url


def _split(text: str) -> _Parts | None:
    """`urlsplit(text)`'s scheme (lower-cased), hostname, port, path, query and fragment.

    None when urlsplit refuses it (a bad port or IPv6 host). An http(s) URL of
    a plain host name (letters, digits, dots, hyphens; no user info or port)
    is matched by a regular expression, about a sixth of urlsplit's cost, to
    the same parts: tests/ingest/test_links_split.py holds it equal to
    `_split_slow` on any text.
    """
    match = _PLAIN_URL.match(text)
    if match is None:
        return _split_slow(text)
    scheme, host, path, query, fragment = match.groups()
    return _Parts(scheme.lower(), host.lower(), None, path or "", query or "", fragment or "")


def _split_slow(text: str) -> _Parts | None:
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    return _Parts(parts.scheme.lower(), host, port, parts.path, parts.query, parts.fragment)


def _joins_to_itself(text: str) -> bool:
    """Whether `urljoin(base, text)` splits into the same parts as `text`, whatever `base`.

    So for an absolute http(s) URL with a host and no `;`: urljoin returns it
    as it is (another scheme than the base's) or re-assembled from its own
    parts (the same scheme, a host), which splits the same, save for a path
    ending in `;` (an empty parameter, dropped). Joining is most of the cost
    of a link, and most links are absolute.
    """
    head = text[:8].lower()
    if not (head.startswith("http://") or head == "https://") or ";" in text:
        return False
    rest = text[head.index("//") + 2 :]
    return bool(rest) and rest[0] not in "/?#"


def _without_tabs(text: str) -> str:
    if "\t" in text or "\r" in text or "\n" in text:
        return _TABS.sub("", text)
    return text


def _identity_params(query: str) -> list[str]:
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition("=")
        name = unquote_plus(raw_name).strip().lower()
        if name in _IDENTITY_TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
            continue
        if name in _SESSION_PARAMS or (
            name == "sid" and _SESSION_TOKEN.fullmatch(unquote_plus(raw_value).strip())
        ):
            continue
        kept.append(_normalize_escapes(piece.replace(" ", "%20")))
    return kept


def _normalize_escapes(text: str) -> str:
    """Percent-escapes upper-cased, those of unreserved characters decoded (RFC 3986 §6.2.2)."""
    if "%" not in text:
        return text

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(0)[1:], 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _PERCENT_ESCAPE.sub(fix, text)


def _strip_tracking_params(query: str) -> str:
    """The query without click-tracking parameters; the others kept byte for byte."""
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        name = unquote_plus(piece.split("=", 1)[0]).strip().lower()
        if name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES):
            continue
        kept.append(piece)
    return "&".join(kept)


def fr_document_number(url: str | None) -> str | None:
    """The Federal Register document number in a federalregister.gov URL, else None.

    Knows `/documents/YYYY/MM/DD/<number>/<slug>`, `/d/<number>`,
    `/api/v1/documents/<number>.json`, `/public-inspection/<number>/...` and
    `public-inspection.federalregister.gov/<number>.pdf` URLs.
    """
    if not url or "federalregister.gov" not in url.lower():
        return None  # (the host below is one only if this text is in the URL)
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if host != "federalregister.gov" and not host.endswith(".federalregister.gov"):
        return None
    if host == "public-inspection.federalregister.gov":
        match = re.match(r"^/([^/?#]+)\.pdf$", parts.path)  # the document's PDF
    else:
        match = _FR_PATH.match(parts.path)
    if not match:
        return None
    number = match.group(1)
    if not _FR_NUMBER.match(number) or not any(ch.isdigit() for ch in number):
        return None
    return number.upper()
