"""What a valid configuration will still not do: `check-config`'s warnings.

An error stops the bot (bot/config/checker.py); a warning is a configuration
that loads but leaves something silently undone: nobody gets a digest, nobody
may run admin commands, Slack cannot reach the bot, a feed is polled for
nothing. `briefbot check-config` prints them before the settings and counts
them in its exit status only with `--strict`.
"""

from __future__ import annotations

from bot.config.model import Config

__all__ = ["config_warnings"]


def config_warnings(config: Config) -> list[str]:
    """One sentence per problem, each saying what will not happen and how to fix it."""
    warnings = [*_slack_warnings(config)]
    if not config.enabled_feeds:
        warnings.append("no enabled feeds: the bot has nothing to watch")
    if not config.digests:
        warnings.append(
            "no digests: no channel gets a morning briefing; add one under `digests:` "
            "(or with /brief schedule HH:MM in the channel)"
        )
    if not config.admins:
        warnings.append(
            "no admins: nobody can add feeds, set schedules or subscribe channels from "
            "Slack; list Slack user ids under `admins:`"
        )
    warnings.extend(_unshown_feeds(config))
    return warnings


def _slack_warnings(config: Config) -> list[str]:
    slack = config.slack
    found = []
    if not (slack.bot_token or "").strip():
        found.append("SLACK_BOT_TOKEN is not set: `briefbot run` cannot start without it")
    if not slack.socket_mode and not slack.signing_secret:
        found.append(
            "HTTP mode without SLACK_SIGNING_SECRET: `briefbot run` cannot verify Slack's "
            "requests and will not start; set it, or set SLACK_APP_TOKEN for Socket Mode"
        )
    return found


def _unshown_feeds(config: Config) -> list[str]:
    """Enabled feeds that every digest leaves out with its `feeds:` list."""
    if not config.digests:
        return []  # said once above, not once per feed
    found = []
    for feed in config.enabled_feeds:
        if all(digest.feeds and feed.id not in digest.feeds for digest in config.digests):
            found.append(
                f"feed {feed.id}: no digest shows its items (each digest's `feeds:` leaves "
                "it out); it still feeds search and subscriptions"
            )
    return found
