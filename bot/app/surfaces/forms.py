"""The forms' answers: the new-subscription preview, checks before the ack, and the work after.

- New subscription: `preview` counts what the query (or topic) would have
  matched in the last `PREVIEW_DAYS` days; `check_subscription` runs the
  rules of `/brief subscribe` (`bot.brief.subscriptions.plan_subscription`:
  the query parses, the zone exists, not a duplicate, under the cap) and
  names the field each problem belongs to; `submit_subscription` stores it.
- Digest schedule (admins): the rules of `/brief schedule`
  (`bot.config.overrides.set_schedule`), checked before the ack (the time
  too: a forged or stale payload can carry one the timepicker cannot); the
  Home tab then says what was saved, the zone by its canonical name.
- New feed (admins): the rules of `/brief feed add`. Fetching the feed takes
  longer than Slack's 3 seconds, so the ack replaces the form with "Checking
  the feed..." and the fetch runs after it (`Runtime.probe_feed`, the poll's
  own path); then the modal says what was added, or shows the form again
  with the problem above it and what was typed kept.

Everything is the workspace's the form came from (bot/app/workspaces.py): the
preview counts its feeds' items, a subscription or schedule is stamped with it,
and a feed another workspace added is followed rather than fetched twice.

Not obvious:
- A check runs twice (before the ack, and again after it, before any write)
  and reads only committed state; a write that loses a race with another
  (the same subscription made twice at once) is refused by the same rules
  inside its transaction and reported on the Home tab.
"""

from __future__ import annotations

from datetime import timedelta

from bot.app.commands.feeds import following
from bot.app.runtime import Runtime
from bot.app.surfaces.home import build_home, delivery_words
from bot.app.workspaces import Scope, follow_existing
from bot.brief.home import count_matches
from bot.brief.subscriptions import (
    SubscriptionError,
    create_subscription,
    plan_subscription,
    read_timezone,
)
from bot.config.overrides import OverrideError, add_feed, plan_feed, set_schedule
from bot.config.redact import redact_text, redact_url
from bot.config.units import format_days, parse_time_of_day
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.render.forms import DAYS, feed_form, note_modal
from bot.surfaces import ActionReply, FormValues, SlackView, SubmissionCheck, ViewSubmission

__all__ = [
    "PREVIEW_DAYS",
    "check_feed",
    "check_schedule",
    "check_subscription",
    "preview",
    "submit_feed",
    "submit_schedule",
    "submit_subscription",
]

PREVIEW_DAYS = 30
_PREVIEW_SCAN = 20_000
_FIELDS = {"what": "query", "mode": "delivery", "daily_at": "daily_at", "timezone": "timezone"}


def _value(values: FormValues, block: str) -> str:
    return next(iter(values.get(block, {}).values()), "").strip()


def _what(values: FormValues) -> tuple[str, str | None]:
    """(topic id or query text, the block an error about it goes to; None: neither given)."""
    topic, query = _value(values, "topic"), _value(values, "query")
    if topic and query:
        return query, "query"  # an explicit query wins; check_subscription says so
    if topic:
        return topic, "topic"
    if query:
        return query, "query"
    return "", None


def preview(runtime: Runtime, scope: Scope, values: FormValues) -> str:
    """The line under the query: what it would have matched, or why it does not work."""
    text, block = _what(values)
    if block is None:
        return "Pick a topic or type a query (then Enter) to see what it would have matched."
    topic = runtime.topics().get(text) if block == "topic" else None
    try:
        query = parse_query(topic.query if topic is not None else text)
    except QueryError as err:
        return f":warning: That query does not work: {err}"
    now = runtime.clock()
    count = count_matches(
        scope.items(runtime.store.items.newest_first(_PREVIEW_SCAN)),
        query,
        since=now - timedelta(days=PREVIEW_DAYS),
        now=now,
        feed_tags=runtime.feed_tags(),
    )
    noun = "item" if count == 1 else "items"
    what = f"topic {topic.id}" if topic is not None else "this query"
    return (
        f"{what.capitalize()} would have matched *{count} {noun}* in the last {PREVIEW_DAYS} days."
    )


def check_subscription(
    runtime: Runtime, scope: Scope, submission: ViewSubmission
) -> SubmissionCheck:
    """The rules of `/brief subscribe`, each problem under its field."""
    values = submission.values
    text, block = _what(values)
    if block is None:
        target = "topic" if runtime.topics() else "query"
        return SubmissionCheck(errors={target: "Pick a topic or type a query."})
    if _value(values, "topic") and _value(values, "query"):
        return SubmissionCheck(errors={"query": "Pick a topic or type a query, not both."})
    mode = _value(values, "delivery") or "immediate"
    try:
        plan_subscription(
            scope.store.subscriptions.list(submission.user_id),
            owner=submission.user_id,
            topic_or_query=text,
            topics=runtime.topics(),
            mode=mode,
            daily_at=_value(values, "daily_at") if mode == "daily" else None,
            timezone=_value(values, "timezone") or "UTC",
        )
    except SubscriptionError as err:
        field = _FIELDS.get(err.field, "query")
        field = block if field == "query" else field
        return SubmissionCheck(errors={field: _sentence(str(err))[:150]})
    return SubmissionCheck()


def submit_subscription(
    runtime: Runtime, scope: Scope, submission: ViewSubmission, *, is_admin: bool
) -> ActionReply:
    """Store the subscription; the Home tab says what was done (or, after a race, why not)."""
    values = submission.values
    text, _block = _what(values)
    mode = _value(values, "delivery") or "immediate"
    try:
        with scope.store.transaction() as tx:
            sub = create_subscription(
                tx,
                owner=submission.user_id,
                created_by=submission.user_id,
                topic_or_query=text,
                topics=runtime.topics(),
                mode=mode,
                daily_at=_value(values, "daily_at") if mode == "daily" else None,
                timezone=_value(values, "timezone") or "UTC",
                now=runtime.clock(),
            )
    except SubscriptionError as err:
        notice = f"Not subscribed: {err}."
    else:
        notice = f"Subscribed to {sub.label} (id {sub.id}): alerts {delivery_words(sub)}."
    home = build_home(runtime, scope, submission.user_id, is_admin=is_admin, notice=notice)
    return ActionReply(home=home)


def _schedule_fields(values: FormValues) -> tuple[str, str, str, str]:
    channel = _value(values, "channel")
    days = ",".join(day for day in _value(values, "days").split(",") if day in DAYS)
    return channel, _value(values, "at"), _value(values, "timezone") or "UTC", days


def check_schedule(runtime: Runtime, submission: ViewSubmission) -> SubmissionCheck:
    """The admins' schedule form: a channel, a time, a zone that exists, at least one day."""
    channel, at, zone, days = _schedule_fields(submission.values)
    errors: dict[str, str] = {}
    if not channel.startswith(("C", "G")):
        errors["channel"] = "Pick a channel (a digest goes to a channel)."
    if not at:
        errors["at"] = "Pick a time."
    else:
        try:
            parse_time_of_day(at)
        except ValueError as err:
            errors["at"] = _sentence(str(err))[:150]
    if not days:
        errors["days"] = "Pick at least one day."
    try:
        read_timezone(zone)
    except SubscriptionError as err:
        errors["timezone"] = _sentence(str(err))[:150]
    return SubmissionCheck(errors=errors)


def submit_schedule(runtime: Runtime, scope: Scope, submission: ViewSubmission) -> ActionReply:
    """Save the schedule as `/brief schedule` does; the Home tab says what happened."""
    channel, at, zone, days = _schedule_fields(submission.values)
    try:
        with scope.store.transaction() as tx:  # the workspace's schedule, posted with its token
            saved = set_schedule(
                tx,
                runtime.config,
                channel,
                at=at,
                timezone=zone,
                days=days,
                by=submission.user_id,
                now=runtime.clock(),
            )
    except OverrideError as err:
        notice = f"The schedule was not saved: {err}."
    else:
        runtime.refresh_config()
        shown = format_days(saved.days).replace(",", ", ")
        notice = (
            f"Saved: the digest of channel {channel} at {saved.at:%H:%M} {saved.timezone}, "
            f"on {shown}."
        )
    home = build_home(runtime, scope, submission.user_id, is_admin=True, notice=notice)
    return ActionReply(home=home)


def check_feed(submission: ViewSubmission) -> SubmissionCheck:
    """A URL is given: the ack shows "Checking the feed..." while it is fetched."""
    if not _value(submission.values, "url"):
        return SubmissionCheck(errors={"url": "Give the feed's URL."})
    return SubmissionCheck(update=note_modal("Add a feed", "Checking the feed..."))


def submit_feed(runtime: Runtime, scope: Scope, submission: ViewSubmission) -> ActionReply:
    """Fetch the feed once, then save it (as `/brief feed add`); the modal says how it went."""
    url = _value(submission.values, "url")
    tags_text = _value(submission.values, "tags")
    tags = [tag.lstrip("#") for tag in tags_text.split()]
    followed = follow_existing(runtime, scope, url)
    if followed is not None:  # another workspace's feed: followed, not fetched twice
        return ActionReply(
            update_modal=note_modal("Add a feed", following(followed)),
            home=build_home(
                runtime, scope, submission.user_id, is_admin=True, notice=following(followed)
            ),
        )
    problem = _feed_problem(runtime, url, tags)
    if problem is not None:
        return ActionReply(update_modal=feed_form(url=url, tags=tags_text, problem=problem))
    try:
        with scope.store.transaction() as tx:
            added = add_feed(
                tx, runtime.base_config, url, tags=tags, by=submission.user_id, now=runtime.clock()
            )
    except OverrideError as err:
        problem = f"Cannot add {redact_url(url)}: {redact_text(str(err))}. Nothing was saved."
        return ActionReply(update_modal=feed_form(url=url, tags=tags_text, problem=problem))
    runtime.refresh_config()
    done: SlackView = note_modal(
        "Add a feed",
        f"Added feed {added.id} ({redact_url(added.url)}). Its first poll is kept as backlog, "
        f"not alerted; /brief feed poll {added.id} polls it now.",
    )
    return ActionReply(
        update_modal=done,
        home=build_home(
            runtime, scope, submission.user_id, is_admin=True, notice=f"Added feed {added.id}."
        ),
    )


def _feed_problem(runtime: Runtime, url: str, tags: list[str]) -> str | None:
    try:
        planned = plan_feed(runtime.store, runtime.base_config, url, tags=tags)
    except OverrideError as err:
        return f"Cannot add {redact_url(url)}: {redact_text(str(err))}."
    tried = runtime.probe_feed(planned)
    problem = tried.result.error if not tried.result.ok else tried.error
    if problem is None:
        return None
    return f"Cannot add {redact_url(url)}: {redact_text(problem)}. Nothing was saved."


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
