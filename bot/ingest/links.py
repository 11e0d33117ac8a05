"""Links of feed items: the canonical form used for identity, and Federal Register numbers.

A canonical link is resolved against the feed's URL (RFC 3986 §5), with the
fragment, user info, default port and click-tracking parameters dropped, so
one article read through two feeds (or twice, with different `utm_*` tags)
has one link. A Federal Register document keeps its number across URL forms
and title-slug changes, so `fr_document_number` gives items their `fr:` id.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

__all__ = ["canonicalize_link", "fr_document_number"]

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
    text = re.sub(r"[\t\r\n]", "", raw).strip()
    if not text:
        return None
    try:
        parts = urlsplit(urljoin(base, text) if base else text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    path = (parts.path or "/").replace(" ", "%20")
    query = _strip_tracking_params(parts.query).replace(" ", "%20")
    return urlunsplit((scheme, netloc, path, query, ""))


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
    if not url:
        return None
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
