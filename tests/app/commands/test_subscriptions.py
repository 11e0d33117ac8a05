"""`/brief subscribe`, `subscriptions`, `unsubscribe`, `mute`, `unmute`: alerts that reach Slack."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app.runtime import Runtime
from bot.slack.deliver import Deliverer
from tests.app.commands.cases import ADMIN, CHANNEL, MEMBER, NEW, OLD, OTHER, run, slack_text
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

REMIND = "reminders 7 and 1 days before a deadline"


def test_subscribe_then_a_new_item_arrives_as_one_direct_message(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(runtime, "subscribe entity-list", poster=deliverer)
    [sub] = runtime.store.subscriptions.list(owner=MEMBER)
    assert reply == (
        f"Subscribed to topic entity-list (id {sub.id}): alerts by direct message as soon "
        f"as new items match; {REMIND}.\n"
        f"/brief mute {sub.id} pauses them, /brief unsubscribe {sub.id} stops them."
    )

    fresh = [
        Entry(
            "Revisions to the Entity List",
            "https://example.org/new/revisions",
            guid="new-revisions",
            summary="BIS revises three entries on the Entity List.",
            published=datetime.now(UTC),
        ),
        Entry("Unrelated story", "https://example.org/new/x", guid="new-x"),
    ]
    feeds.add("/trade.xml", make_rss(fresh + NEW + OLD))
    runtime.poll(force=True)
    report = runtime.dispatch_alerts(deliverer)

    assert (report.delivered, report.messages) == (1, 1)
    [dm] = fake_slack.messages("D" + MEMBER)
    text = slack_text(dm)
    assert "Revisions to the Entity List" in text
    # Which subscription sent it, and how to stop exactly that one.
    assert f"Matched: {sub.label} ({sub.id})" in text
    assert (
        f"Sent by subscription {sub.id}. `/brief mute {sub.id}` pauses it, "
        f"`/brief unsubscribe {sub.id}` removes it." in text
    )
    assert "Unrelated story" not in text
    assert fake_slack.messages(CHANNEL) == []


@pytest.mark.parametrize(
    ("text", "delivery", "mode", "zone"),
    [
        pytest.param("subscribe ipef hourly", "at most once an hour", "hourly", "UTC", id="hourly"),
        pytest.param(
            "subscribe ipef daily", "once a day at 09:00 (UTC)", "daily", "UTC", id="daily-default"
        ),
        pytest.param(
            "subscribe chips OR semiconductor daily 07:45 tz:asia/tokyo",
            "once a day at 07:45 (Asia/Tokyo)",
            "daily",
            "Asia/Tokyo",
            id="daily-at-zone",
        ),
        pytest.param(
            "subscribe tz:Europe/Paris export control Daily",
            "once a day at 09:00 (UTC)",
            "daily",
            "UTC",
            id="options-only-at-the-end",
        ),
    ],
)
def test_subscribe_delivery_options(
    runtime: Runtime, text: str, delivery: str, mode: str, zone: str
) -> None:
    reply = run(runtime, text)
    [sub] = runtime.store.subscriptions.list(owner=MEMBER)
    assert f"alerts by direct message {delivery}; reminders 7 and 1 days before" in reply
    assert (sub.mode, sub.timezone) == (mode, zone)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            "subscribe ipef 08:00",
            "A delivery time (08:00) only applies to daily delivery",
            id="time-without-daily",
        ),
        pytest.param(
            "subscribe ipef daily tz:Mars/Olympus", "Unknown time zone 'Mars/Olympus'", id="zone"
        ),
        pytest.param(
            "subscribe (ipef", "That query does not work: unbalanced parenthesis", id="query"
        ),
    ],
)
def test_subscribe_problems_are_explained(runtime: Runtime, text: str, problem: str) -> None:
    reply = run(runtime, text)
    assert reply.startswith(problem)
    assert "Usage: /brief subscribe <topic or query>" in reply
    assert runtime.store.subscriptions.list() == []


def test_subscribing_twice_is_refused(runtime: Runtime) -> None:
    run(runtime, "subscribe entity-list")
    reply = run(runtime, "subscribe ENTITY-LIST")
    assert reply.startswith("You are already subscribed to topic entity-list (s")


def test_a_subscription_takes_the_callers_slack_time_zone(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    fake_slack.add_user(MEMBER, tz="America/Chicago")
    poster = deliverer  # Deliverer.user_timezone asks Slack's users.info

    reply = run(runtime, "subscribe ipef daily 08:00", poster=poster)

    assert "once a day at 08:00 (America/Chicago)" in reply
    assert [c.params.get("user") for c in fake_slack.calls("users.info")] == [MEMBER]
    # Immediate, but its deadline reminders go by the subscriber's clock.
    run(runtime, "subscribe entity-list", poster=poster)
    assert len(fake_slack.calls("users.info")) == 2
    sub = next(s for s in runtime.store.subscriptions.list() if s.topic == "entity-list")
    assert (sub.mode, sub.timezone) == ("immediate", "America/Chicago")
    run(runtime, "subscribe chips remind:off", poster=poster)  # no zone needed
    assert len(fake_slack.calls("users.info")) == 2


def test_an_admin_subscribes_a_channel_picked_in_slack(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(runtime, "subscribe <#C0TRADE0001|trade-desk> ipef", user=ADMIN)
    [sub] = runtime.store.subscriptions.list(owner="C0TRADE0001")
    assert reply.startswith(f"Subscribed to topic ipef (id {sub.id}): alerts in #trade-desk ")
    assert sub.created_by == ADMIN

    feeds.add(
        "/trade.xml",
        make_rss([Entry("IPEF clean economy pillar", "https://example.org/p", guid="p"), *NEW]),
    )
    runtime.poll(force=True)
    runtime.dispatch_alerts(deliverer)
    [posted] = fake_slack.messages("C0TRADE0001")
    assert "IPEF clean economy pillar" in slack_text(posted)


def test_a_raw_channel_id_works_too(runtime: Runtime) -> None:
    run(runtime, "subscribe C0TRADE0001 ipef", user=ADMIN)
    assert [s.topic for s in runtime.store.subscriptions.list(owner="C0TRADE0001")] == ["ipef"]


def test_subscriptions_list_mute_unmute_unsubscribe(runtime: Runtime) -> None:
    assert run(runtime, "subscriptions") == (
        "You have no subscriptions. Try /brief subscribe entity-list."
    )
    run(runtime, "subscribe entity-list")
    run(runtime, "subscribe chips daily 18:30")
    run(runtime, f"subscribe <#{CHANNEL}|briefing> ipef", user=ADMIN)
    topic_sub, query_sub = runtime.store.subscriptions.list(owner=MEMBER)
    [channel_sub] = runtime.store.subscriptions.list(owner=CHANNEL)

    assert run(runtime, "subscriptions") == (
        "Your subscriptions:\n"
        f"• {topic_sub.id}: topic entity-list · as soon as new items match · {REMIND}\n"
        f"• {query_sub.id}: query chips · once a day at 18:30 (UTC) · {REMIND}\n"
        "This channel's subscriptions:\n"
        f"• {channel_sub.id}: topic ipef · as soon as new items match · {REMIND} · for {CHANNEL}"
    )

    assert run(runtime, f"mute {topic_sub.id.upper()}") == (
        f"Muted {topic_sub.id} (topic entity-list): no alerts until /brief unmute {topic_sub.id}."
    )
    assert (
        f"{topic_sub.id}: topic entity-list · as soon as new items match · {REMIND} · muted"
        in run(runtime, "subscriptions")
    )
    assert run(runtime, f"unmute {topic_sub.id}").startswith(f"Unmuted {topic_sub.id}")
    assert run(runtime, f"unsubscribe {query_sub.id}") == (
        f"Unsubscribed {query_sub.id} (query chips): no more alerts from it."
    )
    assert [s.id for s in runtime.store.subscriptions.list(owner=MEMBER)] == [topic_sub.id]


def test_nobody_else_may_change_a_subscription_but_an_admin(runtime: Runtime) -> None:
    run(runtime, "subscribe entity-list")
    [sub] = runtime.store.subscriptions.list(owner=MEMBER)

    reply = run(runtime, f"unsubscribe {sub.id}", user=OTHER)
    assert reply.startswith(f"You cannot remove subscription {sub.id}: only its owner")
    assert reply.endswith("Usage: /brief unsubscribe <id>")
    assert run(runtime, "unsubscribe s0000").startswith("There is no subscription 's0000'")

    assert run(runtime, f"mute {sub.id}", user=ADMIN).startswith(f"Muted {sub.id}")
    assert runtime.store.subscriptions.list()[0].muted


def test_admins_list_everyones_subscriptions(runtime: Runtime) -> None:
    run(runtime, "subscribe entity-list")
    run(runtime, "subscribe ipef", user=OTHER)
    every = run(runtime, "subscriptions all", user=ADMIN)
    assert every.startswith("All subscriptions:")
    assert f"· for {MEMBER}" in every and f"· for {OTHER}" in every
    theirs = run(runtime, f"subscriptions <@{OTHER}|olga>", user=ADMIN)
    assert theirs.startswith("Subscriptions of @olga:")
    assert "topic ipef" in theirs and "entity-list" not in theirs


# ---------------------------------------------------- channels as Slack sends them (should_escape)


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param("<#C0ALERTS01|alerts>", id="picked-from-the-list-escaped"),
        pytest.param("<#C0ALERTS01|>", id="picked-escaped-without-name"),
        pytest.param("#alerts", id="typed-as-plain-name"),
        pytest.param("#ALERTS", id="plain-name-in-capitals"),
    ],
)
def test_an_admin_subscribes_a_channel_however_slack_sent_it(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer, typed: str
) -> None:
    fake_slack.add_channel("C0ALERTS01", name="alerts")
    fake_slack.add_channel("C0RANDOM01", name="random")

    reply = run(runtime, f"subscribe {typed} ipef", user=ADMIN, poster=deliverer)

    [sub] = runtime.store.subscriptions.list()
    assert sub.owner == "C0ALERTS01"
    assert reply.startswith(f"Subscribed to topic ipef (id {sub.id}): alerts in ")
    looked_up = fake_slack.calls("conversations.list")
    assert bool(looked_up) == (not typed.startswith("<#")), "Slack asked only for a plain name"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        pytest.param(
            "#nope",
            "No channel named #nope that the bot can see: check the name; for a private "
            "channel, /invite @briefbot there first",
            id="not-found",
        ),
        pytest.param(
            "#dup",
            "2 channels are named #dup (C0DUP00001, G0DUP00002): pick one from the list "
            "Slack offers as you type #, or give its id",
            id="ambiguous",
        ),
        pytest.param(
            "#old",
            "No channel named #old that the bot can see",
            id="archived-is-not-offered",
        ),
    ],
)
def test_a_plain_channel_name_that_is_not_one_channel_is_explained(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer, typed: str, problem: str
) -> None:
    fake_slack.add_channel("C0DUP00001", name="dup")
    fake_slack.add_channel("G0DUP00002", name="dup")
    fake_slack.add_channel("C0OLD00001", name="old", archived=True)

    reply = run(runtime, f"subscribe {typed} ipef", user=ADMIN, poster=deliverer)

    assert reply.startswith(problem), reply
    assert "Usage: /brief subscribe" in reply
    assert runtime.store.subscriptions.list() == []


def test_a_plain_channel_name_in_the_console_asks_for_the_id(runtime: Runtime) -> None:
    reply = run(runtime, "subscribe #alerts ipef", user=ADMIN)
    assert reply.startswith(
        "#alerts is a channel name; give its id (channel details → About: Channel ID), "
        "such as C0123456789"
    )
    assert runtime.store.subscriptions.list() == []


def test_a_member_cannot_subscribe_a_channel_by_name_and_slack_is_not_asked(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    fake_slack.add_channel("C0ALERTS01", name="alerts")
    reply = run(runtime, "subscribe #alerts ipef", poster=deliverer)
    assert "admin" in reply.lower()
    assert fake_slack.calls("conversations.list") == []
    assert runtime.store.subscriptions.list() == []
