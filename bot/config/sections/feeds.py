"""The `feeds:` section: each feed's id, URL, name, tags, interval, switches and enrichment.

A feed URL must be http(s) with a host a resolver could be asked for (read by
bot/config/hosts.py: UTS 46, so `ｌｏｃａｌｈｏｓｔ` is localhost), and may name
a loopback or private-network host only with `allow_private: true`, a
link-local or cloud-metadata one only when `allow_addresses` lists it, by the
policy of bot/config/addresses.py. Only the host is judged here (addresses,
numeric forms, localhost names); names that resolve to private addresses are
the fetch guard's business (at connect time).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from yaml.nodes import Node

from bot.config.addresses import (
    PRIVATE_ALLOWED,
    AddressPolicy,
    HostRefusal,
    ip_network,
    policy_for,
    refusal_for_host,
)
from bot.config.checker import ID_RE, Checker, entry_label
from bot.config.hosts import InvalidHostError, normalize_host
from bot.config.model import SCREENING_LIST_FEED_ID
from bot.config.redact import redact_url
from bot.config.units import show_value
from bot.models import FeedConfig

__all__ = ["DEFAULT_FEED_INTERVAL", "ENRICHMENTS", "FEED_KEYS", "read_feed"]

FEED_KEYS = (
    "id",
    "url",
    "name",
    "tags",
    "interval",
    "enabled",
    "allow_private",
    "allow_addresses",
    "enrich",
)
#: What `enrich:` may name: "federal-register" fetches each item's document from the API.
ENRICHMENTS = ("federal-register",)
MIN_FEED_INTERVAL = 60
MAX_FEED_INTERVAL = 7 * 86400
DEFAULT_FEED_INTERVAL = 1800
# Tags are matched with `tag:NAME` in queries, so no spaces or query syntax.
_TAG_RE = re.compile(r"[^\s:\"'(),]{1,64}")


def read_feed(check: Checker, item: Node, index: int, seen: dict[str, int]) -> FeedConfig | None:
    """Entry `index` (1-based) of `feeds:`, or None (reported) when it is unusable."""
    label = entry_label(item, "feed", index, "id", ID_RE)
    keys = check.mapping(item, label, FEED_KEYS, "a mapping with id and url")
    if keys is None:
        return None
    where, feed_id = check.read_id(keys, item, "feed", index, seen)
    if feed_id == SCREENING_LIST_FEED_ID:
        check.report(
            keys["id"],
            where,
            f"id {feed_id!r} is taken by the screening list (screening_list:), whose changes "
            "are stored as that feed's items; choose another id",
        )
        feed_id = None
    allow_private = check.boolean(keys.get("allow_private"), where, "allow_private")
    allow_addresses = _read_addresses(check, keys.get("allow_addresses"), where)
    policy = policy_for(bool(allow_private), allow_addresses)
    url = _read_url(check, keys.get("url"), item, where, policy)
    name = check.text(keys.get("name"), where, "name", limit=200)
    tags = _read_tags(check, keys.get("tags"), where)
    interval = check.duration(
        keys.get("interval"),
        where,
        "interval",
        MIN_FEED_INTERVAL,
        MAX_FEED_INTERVAL,
        "15m or 2h",
    )
    enabled = check.boolean(keys.get("enabled"), where, "enabled")
    enrich = _read_enrich(check, keys.get("enrich"), where)
    if feed_id is None or url is None:
        return None
    return FeedConfig(
        id=feed_id,
        url=url,
        name=(name or "").strip(),
        tags=tags,
        interval_seconds=DEFAULT_FEED_INTERVAL if interval is None else interval,
        enabled=True if enabled is None else enabled,
        allow_private=bool(allow_private),
        allow_addresses=allow_addresses,
        enrich=enrich,
    )


def _read_enrich(check: Checker, node: Node | None, where: str) -> str | None:
    """`enrich:` names an enrichment of ENRICHMENTS, or is absent."""
    if node is None:
        return None
    value = check.text(node, where, "enrich", required=True, limit=64)
    if value is None:
        return None
    if value.strip() not in ENRICHMENTS:
        known = " or ".join(ENRICHMENTS)
        check.report(node, where, f"enrich {show_value(value)} is not known; it can be {known}")
        return None
    return value.strip()


def _read_url(
    check: Checker, node: Node | None, item: Node, where: str, policy: AddressPolicy
) -> str | None:
    if node is None:
        check.report(item, where, "url is required")
        return None
    raw = check.text(node, where, "url", required=True, limit=2048)
    if raw is None:
        return None
    url = raw.strip()
    shown = show_value(redact_url(url), 100)
    if any(c.isspace() or not c.isprintable() for c in url):
        check.report(
            node,
            where,
            f"url {shown} contains spaces or control characters (percent-encode a space as %20)",
        )
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        check.report(node, where, f"url {shown} is not a valid URL")
        return None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = f", not '{parts.scheme}:'" if parts.scheme else ""
        check.report(node, where, f"url {shown} must start with http:// or https://{scheme}")
        return None
    if not parts.hostname:
        check.report(node, where, f"url {shown} has no host name")
        return None
    try:
        host = normalize_host(parts.hostname)
    except InvalidHostError as err:
        check.report(node, where, f"url {shown} cannot be fetched: {err}")
        return None
    refusal = refusal_for_host(host, policy)
    if refusal is not None:
        read_as = "" if host == parts.hostname else f" (read as {host})"
        check.report(
            node,
            where,
            f"url host {parts.hostname}{read_as} is {_refusal_text(refusal)}; {_hint(host)}",
        )
        return None
    return url


def _hint(host: str) -> str:
    """What lets a feed reach `host`: allow_private, or allow_addresses (link-local, metadata)."""
    if refusal_for_host(host, PRIVATE_ALLOWED) is None:
        return (
            "a feed may reach loopback or private-network addresses only with allow_private: true"
        )
    return (
        "a feed may reach link-local and cloud instance-metadata addresses only when "
        "allow_addresses lists them (allow_private: true is not enough)"
    )


def _read_addresses(check: Checker, node: Node | None, where: str) -> tuple[str, ...]:
    """`allow_addresses`: IP addresses or networks, in their canonical form."""
    found: list[str] = []
    example = "[169.254.169.254, 10.20.0.0/16]"
    for item in check.sequence(node, where, "allow_addresses", example):
        text = check.text(item, where, "an address", required=True, limit=64)
        if text is None:
            continue
        try:
            network = ip_network(text)
        except ValueError:
            check.report(
                item,
                where,
                f"allow_addresses entry {show_value(text)} must be an IP address or network "
                "such as 169.254.169.254 or 10.20.0.0/16",
            )
            continue
        shown = str(network.network_address) if network.num_addresses == 1 else str(network)
        if shown not in found:
            found.append(shown)
    return tuple(found)


def _read_tags(check: Checker, node: Node | None, where: str) -> tuple[str, ...]:
    tags: list[str] = []
    for item in check.sequence(node, where, "tags", "[us, export-controls]"):
        tag = check.text(item, where, "a tag", required=True, limit=64)
        if tag is None:
            continue
        tag = tag.strip().lower()
        if not _TAG_RE.fullmatch(tag):
            rule = "one word without spaces, quotes, parentheses, commas or colons"
            check.report(item, where, f"tag {show_value(tag)} must be {rule} (used as tag:NAME)")
            continue
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def _refusal_text(refusal: HostRefusal) -> str:
    """The policy's reason in feeds.yaml's words ("the address 127.0.0.1, a loopback address").

    feeds.yaml's messages call the RFC 1918 and unique-local ranges
    "private-network" addresses, the words of allow_private's hint, where the
    fetch guard's errors say "a private address" / "a unique-local address".
    """
    reason = refusal.reason
    for label in ("a private address", "a unique-local address"):
        if reason.startswith(label):
            reason = "a private-network address" + reason.removeprefix(label)
    if refusal.stands_for is None:
        return reason
    return f"the address {refusal.stands_for}, {reason}"
