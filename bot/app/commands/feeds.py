"""`/brief topics`, `feeds`, `status`, and `feed add|remove|pause|resume|poll` (admins).

Feed changes are overrides stored by the bot (bot/config/overrides.py), one
store transaction each, over the feeds.yaml configuration (`base_config`);
after one, `runtime.refresh_config()` tells the scheduler, which adds, moves or
removes the poll jobs. A feed added from Slack is polled without
`allow_private`: its first poll is kept as backlog, not alerted. `feed add`
fetches and parses the feed once before saving it (`Runtime.probe_feed`, the
poll's own path, through the address guard, storing nothing; no transaction
is open meanwhile) and saves nothing when that fails, so an admin never adds
a feed that cannot work. `feed poll`
polls now even when a feed is not due, then sends the alerts it raised when
there is a Poster (the console has none: they stay queued for `briefbot run`).

Many workspaces (bot/app/workspaces.py): each lists, polls and changes only
the feeds it follows. A URL another workspace already added is not fetched
twice: `feed add` makes this workspace a follower of that feed too, and
`feed remove` drops only this workspace from it (the feed goes when its last
follower removes it). Pausing a feed others follow, and any change to
feeds.yaml's feeds (shared by all), is refused: that is the operator's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app.commands.session import CommandError, Refused, Session, count, one_id, sentence
from bot.app.commands.words import Word
from bot.app.workspaces import delivery_problems, feed_rows, follow_existing, followers_of
from bot.config.overrides import (
    OverrideError,
    add_feed,
    feeds_added_from_slack,
    plan_feed,
    remove_feed,
    removed_feed_ids,
    set_feed_enabled,
)
from bot.config.redact import redact_text, redact_url
from bot.config.units import format_duration
from bot.models import FeedConfig, PollReport, SlackMessage
from bot.render.blocks import pack_messages

__all__ = ["feed", "feeds", "status", "topics"]


def topics(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief topics`: the topics to subscribe to, highest priority first."""
    session.no_args(args)
    configured = session.runtime.config.topics
    if not configured:
        return session.notice(
            "No topics are defined: an operator adds them under topics: in "
            "feeds.yaml. You can still subscribe to a query."
        )
    lines = [f"{count(len(configured), 'topic')} (subscribe with /brief subscribe ID):"]
    for topic in sorted(configured, key=lambda t: -t.priority):
        priority = f" (priority {topic.priority})" if topic.priority else ""
        description = f": {topic.description}" if topic.description else ""
        lines.append(f"• *{topic.id}*{priority}{description}\nquery: {topic.query}")
    return session.notice("\n".join(lines))


def feeds(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief feeds`: every feed, enabled or paused, and those removed from Slack."""
    session.no_args(args)
    runtime, visible = session.runtime, session.feeds
    configured = tuple(f for f in runtime.config.feeds if visible is None or f.id in visible)
    added = feeds_added_from_slack(runtime.store.overrides)
    removed = removed_feed_ids(runtime.base_config, runtime.store.overrides)
    if visible is not None:  # many workspaces: feeds.yaml's are the operator's to remove
        added = {feed_id: by for feed_id, by in added.items() if feed_id in visible}
        removed = []
    enabled = sum(1 for f in configured if f.enabled)
    if not configured and not removed:
        return session.notice(
            "No feeds are configured: an operator adds them under feeds: in feeds.yaml, "
            "or an admin with /brief feed add URL."
        )
    lines = [f"{count(len(configured), 'feed')}, {enabled} enabled:"]
    for one in configured:
        name = f" {one.name}" if one.name else ""
        tags = f" · tags: {', '.join(one.tags)}" if one.tags else ""
        state = "enabled" if one.enabled else "paused"
        origin = _origin(session, one.id, added)
        lines.append(
            f"• *{one.id}*{name}{tags} · every {format_duration(one.interval_seconds)}"
            f" · {state}{origin}"
        )
    if removed:
        lines.append(
            f"Removed from Slack: {', '.join(removed)} (/brief feed resume ID brings one back)."
        )
    return session.notice("\n".join(lines))


def status(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief status`: each feed's health, then any delivery problem."""
    session.no_args(args)
    runtime, scope = session.runtime, session.scope
    messages = runtime.renderer.render_feed_status(feed_rows(runtime, scope))
    errors = delivery_problems(runtime, scope, session.request.user_id)
    if errors:
        lines = ["Delivery problems:"]
        for target, problem in sorted(errors.items()):
            lines.append(f"• {target}: {problem.error} ({_when(problem.at)})")
        messages = pack_messages(messages + session.notice("\n".join(lines)))
    return messages


def feed(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief feed add|remove|pause|resume|poll ...` (admins)."""
    action = args[0].text.lower() if args else ""
    rest = args[1:]
    if action == "add":
        session.require_admin("add feeds")
        return _add(session, rest)
    if action in ("remove", "pause", "resume"):
        session.require_admin(f"{action} feeds")
        feed_id = one_id(rest, "feed", "a feed id")
        _check_ours(session, action, feed_id)
        return _change(session, action, feed_id)
    if action == "poll":
        session.require_admin("poll feeds")
        return _poll(session, rest)
    problem = f"unknown feed command {action!r}" if action else "say what to do with feeds"
    raise CommandError(problem, "feed")


def _add(session: Session, args: list[Word]) -> list[SlackMessage]:
    if not args:
        raise CommandError("give the feed's URL", "feed")
    url = args[0].url or args[0].text
    tags = [w.text.lstrip("#") for w in args[1:]]
    runtime = session.runtime
    followed = follow_existing(runtime, session.scope, url)
    if followed is not None:
        return session.notice(following(followed))
    try:
        planned = plan_feed(runtime.store, runtime.base_config, url, tags=tags)
    except OverrideError as err:
        raise CommandError(
            f"cannot add {redact_url(url)}: {redact_text(str(err))}", "feed"
        ) from None
    tried = runtime.probe_feed(planned)
    problem = tried.result.error if not tried.result.ok else tried.error
    if problem is not None:
        if "allow_private" in problem or "allow_addresses" in problem:
            problem += " (a feed added from Slack cannot have those settings)"
        # A reply, not a CommandError: the command was right, the feed is not.
        shown = f"Cannot add {redact_url(url)}: {redact_text(problem)}. Nothing was saved."
        return session.notice(shown)
    try:
        with session.store.transaction() as tx:
            added = add_feed(
                tx,
                runtime.base_config,
                url,
                tags=tags,
                by=session.request.user_id,
                now=session.now(),
            )
    except OverrideError as err:
        problem = f"cannot add {redact_url(url)}: {redact_text(str(err))}"
        raise CommandError(problem, "feed") from None
    runtime.refresh_config()
    return session.notice(
        f"Added {tried.title or added.id}: {count(tried.parsed, 'item')}. "
        f"Feed {added.id} ({redact_url(added.url)}), polled every "
        f"{format_duration(added.interval_seconds)}. Its first poll is kept as backlog, "
        f"not alerted. /brief feed poll {added.id} polls it now."
    )


def _change(session: Session, action: str, feed_id: str) -> list[SlackMessage]:
    """remove, pause or resume one feed."""
    runtime = session.runtime
    by, now = session.request.user_id, session.now()
    try:
        with session.store.transaction() as tx:
            if action == "remove":
                changed = remove_feed(tx, runtime.base_config, feed_id, by=by, now=now)
            else:
                resume = action == "resume"
                changed = set_feed_enabled(tx, runtime.base_config, feed_id, resume, by=by, now=now)
    except OverrideError as err:
        raise CommandError(sentence(str(err)), "feed") from None
    runtime.refresh_config()
    if action == "remove":
        kept = runtime.base_config.feed(changed.id) is not None
        tail = (
            f" It is in feeds.yaml: /brief feed resume {changed.id} brings it back." if kept else ""
        )
        return session.notice(f"Removed feed {changed.id}.{tail}")
    if action == "pause":
        return session.notice(
            f"Paused feed {changed.id}: not polled until /brief feed resume {changed.id}."
        )
    return session.notice(f"Resumed feed {changed.id}: polled again from its next due time.")


def following(feed: FeedConfig) -> str:
    """What `feed add` says when another workspace already added the URL."""
    return (
        f"Added feed {feed.id} ({redact_url(feed.url)}): another workspace already follows "
        "it, so it is fetched once for both, and its stored items are in your searches now."
    )


def _origin(session: Session, feed_id: str, added: dict[str, str]) -> str:
    if feed_id not in added:
        return ""
    if session.workspace is not None and len(followers_of(session.store.overrides, feed_id)) > 1:
        # Who added it may be of another workspace: not named.
        return " · added from Slack, followed by other workspaces too"
    by = added[feed_id]
    return f" · added from Slack by {by}" if by else " · added from Slack"


def _check_ours(session: Session, action: str, feed_id: str) -> None:
    """Many workspaces: a feed is changed only by a workspace that follows it, and paused or
    resumed only when no other workspace follows it (feeds.yaml's belong to the operator)."""
    visible, workspace = session.feeds, session.workspace
    if visible is None or workspace is None:
        return
    wanted = feed_id.strip()
    if wanted not in visible or session.runtime.config.feed(wanted) is None:
        raise CommandError(f"there is no feed {wanted!r}: /brief feeds lists them", "feed")
    followers = followers_of(session.store.overrides, wanted)
    if not followers:
        raise Refused(
            f"Feed {wanted} is in feeds.yaml, shared by every workspace: an operator "
            f"changes it there."
        )
    if action != "remove" and set(followers) != {workspace.team_id}:
        raise Refused(
            f"Other workspaces follow feed {wanted} too, so it cannot be paused or resumed "
            f"from here; /brief feed remove {wanted} stops it for this workspace."
        )


def _poll(session: Session, args: list[Word]) -> list[SlackMessage]:
    """Poll the named feeds (or every enabled one) now, then send the alerts they raised."""
    config, visible = session.runtime.config, session.feeds
    wanted = [w.text for w in args]
    for feed_id in wanted:
        found = config.feed(feed_id) if visible is None or feed_id in visible else None
        if found is None:
            raise CommandError(f"there is no feed {feed_id!r}: /brief feeds lists them", "feed")
        if not found.enabled:
            raise CommandError(
                f"feed {feed_id} is paused: /brief feed resume {feed_id} first", "feed"
            )
    enabled = {f.id for f in config.enabled_feeds if visible is None or f.id in visible}
    if not enabled:
        return session.notice("No feed is enabled: nothing to poll.")
    ids = set(wanted) or (enabled if visible is not None else None)
    reports = session.runtime.poll(feed_ids=ids, force=True)
    lines = [f"Polled {count(len(reports), 'feed')}:"]
    lines += [f"• {report.feed_id}: {_poll_outcome(report)}" for report in reports]
    lines += _send_alerts(session, reports)
    return session.notice("\n".join(lines))


def _poll_outcome(report: PollReport) -> str:
    if report.status == "error":
        return f"failed: {report.error}"
    if report.status == "not-modified":
        return "not modified since the last poll"
    if report.backlog:
        return f"{report.new_items} stored as backlog (a first poll: not alerted)"
    return f"{report.new_items} new, {report.seen_items} already seen"


def _send_alerts(session: Session, reports: list[PollReport]) -> list[str]:
    """Deliver the alerts due after a poll, and the lines that say what happened."""
    if session.deliveries is None:
        if any(r.new_items and not r.backlog for r in reports):
            return ["Alerts stay queued: no Slack connection here (briefbot run sends them)."]
        return []
    # Every workspace's alerts, each posted with its own workspace's token.
    sent = session.runtime.dispatch_alerts(session.deliveries)
    lines = [f"Alerts sent: {count(sent.delivered, 'item')} in {count(sent.messages, 'message')}."]
    for owner, error in sent.failed_owners.items():
        lines.append(f"• not delivered to {owner}: {error}")
    return lines


def _when(iso: object) -> str:
    """A stored ISO time as "2026-11-25 09:34 UTC"; anything else as it is."""
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"
