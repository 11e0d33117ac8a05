"""`/brief digest [post]` and `/brief schedule`: this channel's digest, previewed, posted, timed.

The preview only reads: a channel seen for the first time gets no cursor
record from a preview, and without a schedule it shows what the defaults
(08:30 UTC, every topic) would send. `digest post` is an admin's because
posting moves the channel's digest cursor (bot/app/commands/session.py says
why that matters). A schedule set here is a stored override of feeds.yaml
(one store transaction), then `runtime.refresh_config()` moves the digest job;
`schedule off` removes only what was set from Slack.

Many workspaces: a schedule belongs to the workspace that set it (its
`team_id`, bot/app/workspaces.py): its digest covers that workspace's feeds
and is posted with that workspace's bot token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time

from bot.app.commands.session import CommandError, Session, count, sentence
from bot.app.commands.words import CHANNEL_ID, TIME_OF_DAY, Word, joined
from bot.brief.schedule import digest_zone, next_digest_time
from bot.config.model import DigestConfig
from bot.config.overrides import OverrideError, clear_schedule, set_schedule
from bot.config.units import format_days, parse_days
from bot.models import SlackMessage
from bot.render.blocks import pack_messages

__all__ = ["digest", "schedule"]


def digest(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief digest`: a private preview; `/brief digest post`: post it now (admins)."""
    if args and args[0].text.lower() == "post" and len(args) == 1:
        return _post(session)
    if args:
        raise CommandError(f"unknown digest option {joined(args)!r}", "digest")
    config, scheduled = _channel_digest(session)
    _view, messages = session.runtime.build_digest(config)
    about = "" if scheduled else " (no digest is scheduled here: this uses the defaults)"
    if not messages:
        return session.notice(f"Nothing new for this channel since its last digest{about}.")
    intro = session.notice(
        f"Preview of this channel's digest, only you can see it{about}. "
        "An admin can post it with /brief digest post."
    )
    return pack_messages(intro + messages)


def _channel_digest(session: Session) -> tuple[DigestConfig, bool]:
    """This channel's digest settings, and whether a schedule exists (else defaults)."""
    channel = session.request.channel_id
    config = session.runtime.digest_config(channel)
    if config is not None:
        return config, True
    request = session.request  # many workspaces: the defaults cover the caller's feeds
    default = DigestConfig(
        channel=channel,
        at=time(8, 30),
        timezone="UTC",
        team_id=request.team_id,
        enterprise_id=request.enterprise_id,
    )
    return default, False


def _post(session: Session) -> list[SlackMessage]:
    session.require_admin("post the digest")
    if session.poster is None:
        return session.notice("digest post needs Slack: set SLACK_BOT_TOKEN.")
    config, _scheduled = _channel_digest(session)
    outcome = session.runtime.send_digest(config, session.poster)
    if outcome.status == "sent":
        return session.notice(f"Posted this channel's digest ({count(outcome.items, 'item')}).")
    if outcome.status == "skipped":
        return session.notice("Nothing new since the last digest: nothing was posted.")
    if outcome.status == "already-sent":
        return session.notice("This digest was already posted.")
    return session.notice(f"The digest was not posted: {outcome.error}")


def schedule(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief schedule`: show it; `schedule HH:MM [zone] [days]` or `schedule off` (admins)."""
    if not args:
        return session.notice(_describe_schedule(session))
    if not CHANNEL_ID.fullmatch(session.request.channel_id):
        raise CommandError(
            "schedule sets a channel's digest: run it in the channel that should get it",
            "schedule",
        )
    session.require_admin("change the digest schedule")
    if len(args) == 1 and args[0].text.lower() == "off":
        return _clear(session)
    return _set(session, args)


def _clear(session: Session) -> list[SlackMessage]:
    with session.store.transaction() as tx:
        cleared = clear_schedule(tx, session.request.channel_id)
    if not cleared:
        return session.notice("No schedule was set from Slack for this channel.")
    session.runtime.refresh_config()
    return session.notice("Removed the schedule set from Slack. " + _describe_schedule(session))


def _set(session: Session, args: list[Word]) -> list[SlackMessage]:
    at = args[0].text
    if not TIME_OF_DAY.fullmatch(at):
        raise CommandError(f"{at!r} is not a time of day such as 08:30", "schedule")
    zone, days = _read_zone_and_days(args[1:])
    runtime = session.runtime
    try:
        with session.store.transaction() as tx:  # many workspaces: stamped with the caller's
            set_schedule(
                tx,
                runtime.config,
                session.request.channel_id,
                at=at,
                timezone=zone,
                days=days,
                by=session.request.user_id,
                now=session.now(),
            )
    except OverrideError as err:
        raise CommandError(sentence(str(err)), "schedule") from None
    runtime.refresh_config()
    return session.notice("Schedule saved. " + _describe_schedule(session))


def _describe_schedule(session: Session) -> str:
    config = session.runtime.digest_config(session.request.channel_id)
    if config is None:
        return (
            "No digest is scheduled for this channel. An admin can set one: "
            "/brief schedule 08:30 Asia/Tokyo mon-fri"
        )
    zone = digest_zone(config)
    upcoming = next_digest_time(config, session.now()).astimezone(zone)
    topics = ", ".join(config.topics) if config.topics else "all topics"
    return (
        f"This channel's digest: {config.at:%H:%M} {config.timezone}, "
        f"{format_days(config.days)}; {topics}, up to {config.max_items} items. "
        f"Next: {upcoming:%a %d %b %H:%M} ({config.timezone})."
    )


def _read_zone_and_days(args: Sequence[Word]) -> tuple[str | None, str | None]:
    zone: str | None = None
    days: str | None = None
    for word in args:
        try:
            parse_days(word.text)
        except ValueError:
            if zone is not None:
                raise CommandError(
                    f"{word.text!r} is neither a time zone (already {zone}) nor days such as "
                    "mon-fri",
                    "schedule",
                ) from None
            zone = word.text
            continue
        if days is not None:
            raise CommandError("give the days once, such as mon-fri or mon,wed,fri", "schedule")
        days = word.text
    return zone, days
