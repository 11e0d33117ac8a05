"""The `settings:` section: fetch limits, retention, paths and timings, each within bounds.

Every key has a `_Rule` (its kind and inclusive bounds); after each value is
read alone, `check_settings` reports pairs that contradict each other (a total
timeout shorter than the connect timeout, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from yaml.nodes import Node, ScalarNode

from bot.config.checker import Checker, describe_node, is_null, range_text
from bot.config.redact import redact_url
from bot.config.units import format_duration, parse_size
from bot.models import Settings

__all__ = ["DATABASE_URL_HINT", "is_database_url", "read_settings"]


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one `settings:` key is read: kind, inclusive bounds, and an error hint."""

    # "text", "url", "path", "optional-path", "int", "seconds", "duration", "size", "workers",
    # "database-url"
    kind: str
    low: float = 0
    high: float = 0
    low_exclusive: bool = False


_SETTING_RULES: dict[str, _Rule] = {
    "user_agent": _Rule("text"),
    "connect_timeout": _Rule("seconds", 0, 300, low_exclusive=True),
    "read_timeout": _Rule("seconds", 0, 600, low_exclusive=True),
    "total_timeout": _Rule("seconds", 0, 3600, low_exclusive=True),
    "max_bytes": _Rule("size", 1024, 1024**3),
    "max_redirects": _Rule("int", 0, 20),
    "concurrency": _Rule("int", 1, 256),
    "per_host_concurrency": _Rule("int", 1, 64),
    "retention_days": _Rule("int", 1, 3650),
    "data_dir": _Rule("path"),
    "backoff_base_seconds": _Rule("duration", 1, 86400),
    "backoff_max_seconds": _Rule("duration", 60, 7 * 86400),
    "summary_max_chars": _Rule("int", 50, 20000),
    "templates_dir": _Rule("optional-path"),
    "failure_notice_seconds": _Rule("duration", 60, 30 * 86400),
    "parse_workers": _Rule("workers", 0, 64),
    "parse_timeout": _Rule("seconds", 0, 600, low_exclusive=True),
    "federal_register_api": _Rule("url"),
    "database_url": _Rule("database-url"),
}

_WHERE = "settings"

DATABASE_URL_HINT = "must be a PostgreSQL URL such as postgresql://briefbot@db.internal/briefbot"


def is_database_url(value: str) -> bool:
    """Whether `value` names a PostgreSQL database (postgresql:// or postgres://)."""
    return value.strip().lower().startswith(("postgresql://", "postgres://"))


def read_settings(check: Checker, node: Node | None) -> Settings:
    """The `settings:` mapping as `Settings`; defaults for what is absent or wrong."""
    if node is None or is_null(node):
        return Settings()
    keys = check.mapping(node, _WHERE, tuple(_SETTING_RULES), "a mapping of setting names")
    if keys is None:
        return Settings()
    values: dict[str, Any] = {}
    for name, value_node in keys.items():
        rule = _SETTING_RULES[name]
        if rule.kind == "optional-path" and is_null(value_node):
            values[name] = None
            continue
        value = _read_value(check, name, value_node, rule)
        if value is not None:
            values[name] = value
    settings = Settings(**values)
    check_settings(check, settings, keys)
    return settings


def _read_value(check: Checker, name: str, node: Node, rule: _Rule) -> Any:
    """One setting's value by its rule, or None (reported) when it is wrong."""
    value: Any
    if rule.kind == "text":
        value = check.text(node, _WHERE, name, required=True, limit=512)
        if value is not None and not value.isprintable():
            check.report(node, _WHERE, f"{name} must be one line of printable text")
            value = None
    elif rule.kind == "url":
        value = _url(check, node, name)
    elif rule.kind in ("path", "optional-path"):
        value = check.text(node, _WHERE, name, required=True, limit=4096)
    elif rule.kind == "database-url":
        value = check.text(node, _WHERE, name, required=True, limit=4096)
        if value is not None and not is_database_url(value):
            check.report(node, _WHERE, f"{name} {DATABASE_URL_HINT}, not {redact_url(value)!r}")
            value = None
    elif rule.kind == "int":
        value = check.number(node, _WHERE, name, int, rule.low, rule.high)
    elif rule.kind == "seconds":
        value = _seconds(check, node, name, rule)
    elif rule.kind == "duration":
        value = check.duration(node, _WHERE, name, int(rule.low), int(rule.high), "5m or 6h")
    elif rule.kind == "workers":
        value = _workers(check, node, name, rule)
    else:
        value = _size(check, node, name, rule)
    return value


def _url(check: Checker, node: Node, name: str) -> str | None:
    """An http(s) URL with a host, ending in "/" (paths are joined to it)."""
    text = check.text(node, _WHERE, name, required=True, limit=512)
    if text is None:
        return None
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not url.isprintable():
        check.report(
            node, _WHERE, f"{name} must be an http(s) URL such as {Settings().federal_register_api}"
        )
        return None
    return url if url.endswith("/") else url + "/"


def _seconds(check: Checker, node: Node, name: str, rule: _Rule) -> float | None:
    """A number of seconds, or a duration string; for timeouts."""
    value: float | None = check.plain_number(node, float)
    if value is None:
        value = check.duration_text(node, _WHERE, name, "10s or 2m")
        if value is None:
            return None
    if not check.in_range(value, rule.low, rule.high, rule.low_exclusive):
        check.report(
            node,
            _WHERE,
            f"{name} {range_text(rule.low, rule.high, rule.low_exclusive, 'seconds', value)}",
        )
        return None
    return float(value)


def _workers(check: Checker, node: Node, name: str, rule: _Rule) -> int | str | None:
    """A count of processes, or "auto" (one per core)."""
    if isinstance(node, ScalarNode) and node.style is None and node.value == "auto":
        return "auto"
    count = check.plain_number(node, int)
    if count is None or not check.in_range(count, rule.low, rule.high, False):
        check.report(
            node,
            _WHERE,
            f"{name} must be auto or a whole number from {int(rule.low)} to {int(rule.high)}, "
            f"not {describe_node(node)}",
        )
        return None
    return count


def _size(check: Checker, node: Node, name: str, rule: _Rule) -> int | None:
    value = check.plain_number(node, int)
    if value is None:
        try:
            if not isinstance(node, ScalarNode) or is_null(node):
                raise ValueError
            value = parse_size(str(node.value))
        except ValueError:
            check.report(
                node,
                _WHERE,
                f"{name} {describe_node(node)} is not a size such as 512KB or 10MB",
            )
            return None
    if not check.in_range(value, rule.low, rule.high, False):
        check.report(
            node,
            _WHERE,
            f"{name} must be between 1KB and 1GB ({int(rule.low)} and {int(rule.high)} "
            f"bytes), not {describe_node(node)}",
        )
        return None
    return value


def check_settings(check: Checker, settings: Settings, keys: dict[str, Node]) -> None:
    """Report settings that contradict each other, at the line of the first one written."""

    def at(*names: str) -> Node | None:
        return next((keys[n] for n in names if n in keys), None)

    if settings.total_timeout < settings.connect_timeout:
        check.report(
            at("total_timeout", "connect_timeout"),
            "settings",
            f"total_timeout ({settings.total_timeout:g}s) is shorter than "
            f"connect_timeout ({settings.connect_timeout:g}s)",
        )
    if settings.per_host_concurrency > settings.concurrency:
        check.report(
            at("per_host_concurrency", "concurrency"),
            "settings",
            f"per_host_concurrency ({settings.per_host_concurrency}) is more than "
            f"concurrency ({settings.concurrency})",
        )
    if settings.backoff_max_seconds < settings.backoff_base_seconds:
        check.report(
            at("backoff_max_seconds", "backoff_base_seconds"),
            "settings",
            f"backoff_max_seconds ({format_duration(settings.backoff_max_seconds)}) is "
            f"shorter than backoff_base_seconds "
            f"({format_duration(settings.backoff_base_seconds)})",
        )
