"""The resolved configuration as check-config prints it: JSON-ready, secrets shown as set / not set.

Durations and days are written back in feeds.yaml's own forms ("30m",
"mon-fri"), and every URL goes through `redact_url`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bot.config.model import Config
from bot.config.redact import redact_url, set_or_not
from bot.config.units import format_days, format_duration
from bot.models import Settings

__all__ = ["describe_config"]


def describe_config(config: Config) -> dict[str, Any]:
    """The resolved configuration as JSON-ready data, secrets shown only as set / not set."""
    settings = {f.name: getattr(config.settings, f.name) for f in dataclasses.fields(Settings)}
    if config.settings.database_url:
        settings["database_url"] = redact_url(config.settings.database_url)
    return {
        "path": config.path,
        "settings": settings,
        "feeds": [
            {
                "id": f.id,
                "name": f.display_name,
                "url": redact_url(f.url),
                "interval": format_duration(f.interval_seconds),
                "interval_seconds": f.interval_seconds,
                "tags": list(f.tags),
                "enabled": f.enabled,
                "allow_private": f.allow_private,
                "allow_addresses": list(f.allow_addresses),
                "enrich": f.enrich,
            }
            for f in config.feeds
        ],
        "topics": [
            {"id": t.id, "query": t.query, "description": t.description, "priority": t.priority}
            for t in config.topics
        ],
        "digests": [
            {
                "channel": d.channel,
                "at": d.at.strftime("%H:%M"),
                "timezone": d.timezone,
                "days": format_days(d.days),
                "topics": list(d.topics) or "all",
                "feeds": list(d.feeds) or "all",
                "max_items": d.max_items,
                "thread": d.thread,
                "when_empty": d.when_empty,
                "others": d.others,
                "summaries": d.summaries,
                "monthly": d.monthly,
            }
            for d in config.digests
        ],
        "screening_list": _screening_list(config),
        "admins": list(config.admins),
        "ops_channel": config.ops_channel,
        "slack": {
            "bot_token": set_or_not(config.slack.bot_token),
            "signing_secret": set_or_not(config.slack.signing_secret),
            "app_token": set_or_not(config.slack.app_token),
            "api_url": redact_url(config.slack.api_url),
            "mode": "socket" if config.slack.socket_mode else "http",
            "client_id": config.slack.client_id or "not set",
            "client_secret": set_or_not(config.slack.client_secret),
            "secret_key": set_or_not(config.slack.secret_key),
        },
        "llm": _language_model(config),
    }


def _language_model(config: Config) -> dict[str, Any] | None:
    """The optional language model: its URL redacted, its key as set / not set."""
    llm = config.llm
    if llm is None:
        return None
    return {
        "url": redact_url(llm.url),
        "model": llm.model,
        "key": set_or_not(llm.key),
        "timeout_seconds": llm.timeout_seconds,
    }


def _screening_list(config: Config) -> dict[str, Any] | None:
    listed = config.screening_list
    if listed is None:
        return None
    return {
        "url": redact_url(listed.url),
        "interval": format_duration(listed.interval_seconds),
        "interval_seconds": listed.interval_seconds,
        "enabled": listed.enabled,
        "allow_private": listed.allow_private,
        "allow_addresses": list(listed.allow_addresses),
    }
