"""Every `/brief` sub-command over a real Runtime: loopback feeds, a store in tmp_path, and
the real slack_sdk client talking to the fake Slack where a command must post.

Each test reads the reply as a user would (the blocks' text through
`mrkdwn_to_plain`), and where a command changes something, looks at the
store, the configuration or what reached Slack."""

from __future__ import annotations

import logging
import re
import shutil
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient

from bot.app.commands import (
    COMMANDS,
    CommandReply,
    CommandRequest,
    Word,
    handle_command,
    read_words,
)
from bot.app.runtime import DIGEST_TABLE, Runtime
from bot.brief.subscriptions import create_subscription, list_subscriptions
from bot.config.model import Config, SlackSecrets
from bot.config.schema import parse_config_text
from bot.models import SlackMessage
from bot.render.renderer import mrkdwn_to_plain
from bot.render.slacklimits import validate_message
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer, DeliveryResult
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

ADMIN = "U0ADMIN0001"
MEMBER = "U0MEMBER001"
OTHER = "U0OTHER0001"
CHANNEL = "C0BRIEFING1"
NOW = datetime.now(UTC)

OLD = [
    Entry(
        "Rare earth export quotas unchanged",
        "https://example.org/old/1",
        guid="old-1",
        summary="Quotas for rare earth exports stay at last year's level.",
        published=NOW - timedelta(days=3),
    )
]
NEW = [
    Entry(
        "BIS adds 36 entities to the Entity List",
        "https://example.org/new/entity",
        guid="new-entity",
        summary="Additions to the Entity List under the destinations of China and Japan.",
        published=NOW - timedelta(minutes=30),
    ),
    Entry(
        "IPEF ministers sign supply chain agreement",
        "https://example.org/new/ipef",
        guid="new-ipef",
        summary="The Indo-Pacific Economic Framework partners signed the agreement.",
        published=NOW - timedelta(minutes=20),
    ),
    Entry(
        "Chips 4 alliance meets in Tokyo",
        "https://example.org/new/chips",
        guid="new-chips",
        summary="Semiconductor supply talks between four governments.",
        published=NOW - timedelta(minutes=10),
    ),
]


def make_config(
    data_dir: Path, feeds: Mapping[str, str], *, admins: Sequence[str] = (ADMIN,), extra: str = ""
) -> Config:
    feed_lines = "".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true\n    tags: [trade]\n"
        for fid, url in feeds.items()
    )
    admin_list = ", ".join(admins)
    text = (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n{feed_lines}"
        "topics:\n"
        "  - id: entity-list\n    query: '\"entity list\"'\n"
        "    description: BIS Entity List changes\n    priority: 10\n"
        "  - id: ipef\n    query: ipef OR indo-pacific\n    description: IPEF talks\n"
        f"admins: [{admin_list}]\n"
        f"{extra}"
    )
    return parse_config_text(text, "test-feeds.yaml", env={})


@dataclass(frozen=True)
class Template:
    """A data directory after two polls, copied for each test (polling costs ~0.2 s)."""

    server: FeedServer
    data_dir: Path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    server = FeedServer().start()
    try:
        data_dir = tmp_path_factory.mktemp("template") / "data"
        serve_defaults(server)
        server.add("/trade.xml", make_rss(OLD))
        with Runtime.open(config_for(server, data_dir)) as rt:
            rt.poll(force=True)  # the first poll: backlog
            server.add("/trade.xml", make_rss(NEW + OLD))
            rt.poll(force=True)
        yield Template(server, data_dir)
    finally:
        server.stop()
    assert not server.errors, f"feed server handler errors: {server.errors!r}"


def serve_defaults(server: FeedServer) -> None:
    server.add("/trade.xml", make_rss(NEW + OLD))
    server.add("/quiet.xml", make_rss([]))


def config_for(server: FeedServer, data_dir: Path, **kw: Any) -> Config:
    urls = {"trade": server.url("/trade.xml"), "quiet": server.url("/quiet.xml")}
    return make_config(data_dir, urls, **kw)


@pytest.fixture
def feeds(template: Template) -> Iterator[FeedServer]:
    """The feed server behind `runtime`, serving the default documents again."""
    serve_defaults(template.server)
    yield template.server
    serve_defaults(template.server)


@pytest.fixture
def runtime(template: Template, feeds: FeedServer, tmp_path: Path) -> Iterator[Runtime]:
    """Feeds `trade` (a backlog item, then three new ones) and `quiet` (empty), polled."""
    data_dir = tmp_path / "data"
    shutil.copytree(template.data_dir, data_dir)
    with Runtime.open(config_for(feeds, data_dir)) as rt:
        yield rt


@pytest.fixture
def deliverer(fake_slack: FakeSlack) -> Deliverer:
    return Deliverer(slack_client(fake_slack), interval=0.0, backoff=0.05)


def slack_client(fake: FakeSlack) -> WebClient:
    secrets = SlackSecrets(bot_token=fake.token, api_url=fake.url)
    return make_web_client(secrets, timeout=5, backoff=0.05)


def run(
    runtime: Runtime,
    text: str,
    *,
    user: str = MEMBER,
    channel: str = CHANNEL,
    poster: Any = None,
) -> str:
    """The reply's text as the user reads it."""
    reply = handle_command(runtime, CommandRequest(user, channel, text), poster=poster)
    assert not reply.in_channel
    return plain(reply)


def plain(reply: CommandReply | Sequence[SlackMessage]) -> str:
    messages = reply.messages if isinstance(reply, CommandReply) else reply
    lines = []
    for message in messages:
        for block in message.blocks:
            texts = [block.get("text"), *block.get("elements", [])]
            lines += [mrkdwn_to_plain(t["text"]) for t in texts if isinstance(t, Mapping)]
    # Slack shows *bold* and `code` without their marks.
    return "\n".join(lines).replace("*", "").replace("`", "")


def slack_text(posted: Any) -> str:
    return "\n".join(mrkdwn_to_plain(b["text"]["text"]) for b in posted.blocks if "text" in b)


# -- reading what Slack sends ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("  a   b\t c\n", [Word("a"), Word("b"), Word("c")], id="whitespace"),
        pytest.param(
            "<#C0TRADE0001|trade-desk> x",
            [Word("#trade-desk", channel="C0TRADE0001"), Word("x")],
            id="channel",
        ),
        pytest.param(
            "<#C0TRADE0001>", [Word("#C0TRADE0001", channel="C0TRADE0001")], id="channel-bare"
        ),
        pytest.param("<@U0OTHER0001|olga>", [Word("@olga", user="U0OTHER0001")], id="user"),
        pytest.param(
            "<https://example.org/rss|example.org/rss>",
            [Word("example.org/rss", url="https://example.org/rss")],
            id="link-label",
        ),
        pytest.param(
            "<https://example.org/a?b=1&amp;c=2>",
            [Word("https://example.org/a?b=1&c=2", url="https://example.org/a?b=1&c=2")],
            id="link",
        ),
        pytest.param(
            "add <https://example.org/rss|Click here> now",
            [
                Word("add"),
                Word("Click here", url="https://example.org/rss"),
                Word("now"),
            ],
            id="link-label-with-spaces",
        ),
        pytest.param("<!here> now", [Word("@here"), Word("now")], id="broadcast"),
        pytest.param(
            "a &amp; b &lt;c&gt;", [Word("a"), Word("&"), Word("b"), Word("<c>")], id="entities"
        ),
        pytest.param("<not a token>", [Word("<not"), Word("a"), Word("token>")], id="literal"),
        pytest.param("text=1&channel_id=C1", [Word("text=1&channel_id=C1")], id="form-like"),
        pytest.param("", [], id="empty"),
    ],
)
def test_slack_text_is_read_into_words(text: str, expected: list[Word]) -> None:
    assert read_words(text) == expected


# -- help, unknown sub-commands, bad input ------------------------------------------------


@pytest.mark.parametrize("text", ["", "help", "  HELP  ", "\thelp\n"], ids=repr)
def test_help_lists_every_command(runtime: Runtime, text: str) -> None:
    reply = run(runtime, text)
    assert reply.startswith("/brief commands")
    for usage, description in COMMANDS:
        assert f"{usage}  {description}" in reply
    assert "Anything else you type after /brief is searched." in reply


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        pytest.param(
            "feed frobnicate", "unknown feed command 'frobnicate'", "/brief feed add", id="feed"
        ),
        pytest.param(
            "feed", "say what to do with feeds", "/brief feed poll [id...]", id="feed-bare"
        ),
        pytest.param(
            "digest later", "unknown digest option 'later'", "/brief digest post", id="digest"
        ),
        pytest.param(
            "subscriptions mine", "unknown option 'mine'", "/brief subscriptions [all]", id="subs"
        ),
        pytest.param(
            "topics please", "topics takes no words after it", "/brief topics", id="extra-words"
        ),
        pytest.param(
            "unsubscribe", "give a subscription id", "/brief unsubscribe <id>", id="no-id"
        ),
        pytest.param(
            "mute s1234 s5678", "give one subscription id, not 2", "/brief mute <id>", id="two-ids"
        ),
        pytest.param("latest 99", "n must be between 1 and 50", "/brief latest", id="latest-n"),
        pytest.param("search", "say what to search for", "/brief search <query>", id="search"),
        pytest.param("subscribe", "say what to subscribe to", "/brief subscribe", id="subscribe"),
    ],
)
def test_a_malformed_sub_command_gets_the_problem_and_its_usage(
    runtime: Runtime, text: str, problem: str, usage: str
) -> None:
    reply = run(runtime, text, user=ADMIN)
    first, *rest = reply.split("\n")
    assert problem in first
    assert rest[-1].startswith("Usage: ")
    assert usage in rest[-1]
    assert "Traceback" not in reply


@pytest.mark.parametrize(
    ("text", "error", "marked"),
    [
        pytest.param("what's \"new", "unclosed quote at column 8", "what's ▶\"new", id="quote"),
        pytest.param("chips AND", "AND needs a term after it (column 7)", "chips ▶AND", id="and"),
        pytest.param("(ipef OR chips", "unbalanced parenthesis at column 1", "▶(ipef", id="paren"),
        pytest.param("search since:xx", "since: needs a duration", "▶since:xx", id="search-since"),
    ],
)
def test_a_malformed_query_says_what_and_where(
    runtime: Runtime, text: str, error: str, marked: str
) -> None:
    lines = run(runtime, text).split("\n")
    assert lines[0].startswith("query error: ")
    assert error in lines[0]
    assert marked in lines[1]
    assert lines[2].startswith("Usage: ")


def test_a_question_that_names_nothing_says_so(runtime: Runtime) -> None:
    reply = run(runtime, "what is the")
    assert "query error: the question names no subject" in reply


def test_slack_escapes_and_form_like_words_reach_the_search_verbatim(runtime: Runtime) -> None:
    reply = run(runtime, "text=ipef &amp;  command=/brief &lt;b&gt;")
    assert "“text=ipef & command=/brief <b>”" in reply


def test_a_typo_of_a_command_that_finds_nothing_suggests_it(runtime: Runtime) -> None:
    reply = run(runtime, "subscrib")
    assert "No results for “subscrib”" in reply
    assert "Did you mean /brief subscribe?" in reply


def test_an_over_long_command_is_refused_politely(runtime: Runtime) -> None:
    reply = run(runtime, "chips " * 1000)
    assert "That command is 6,000 characters long; /brief takes up to 4,000." in reply


def test_an_internal_error_gives_a_reference_not_a_traceback(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    runtime.store.close()  # every store read now fails: a fault on our side
    with caplog.at_level(logging.ERROR, logger="bot.app.commands"):
        reply = run(runtime, "subscriptions")
    assert reply.startswith("Something went wrong on our side (ref ")
    assert reply.endswith("); the error is in the bot's log.")
    ref = reply.split("(ref ")[1][:6]
    assert len(ref) == 6 and ref.isalnum()
    assert "Traceback" not in reply
    [record] = [r for r in caplog.records if ref in r.getMessage()]
    assert record.exc_info is not None
    assert f"/brief subscriptions from {MEMBER} in {CHANNEL} failed (ref {ref})" in (
        record.getMessage()
    )


_FRAGMENTS = [
    *(usage.split()[1] for usage, _ in COMMANDS),
    *[
        "add",
        "remove",
        "pause",
        "resume",
        "poll",
        "post",
        "all",
        "off",
        "daily",
        "hourly",
        "08:00",
        "25:99",
        "tz:Asia/Tokyo",
        "tz:",
        "mon-fri",
        "0",
        "7",
        "99",
        "²",
        "OR",
        "AND",
        "NOT",
        "(",
        ")",
        '"',
        "since:7d",
        "feed:trade",
        "tag:x",
        "*",
        "s0000",
        "#general",
    ],
    "<#C0TRADE0001|trade>",
    "<@U0OTHER0001|olga>",
    "<mailto:someone@example.org|someone@example.org>",  # no http URL: `feed poll` stays local
    "<!here>",
    "&amp;",
    "&lt;",
    "text=",
    "entity-list",
    "trade",
]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    words=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=7),
    user=st.sampled_from([MEMBER, ADMIN]),
)
def test_no_input_makes_the_bot_fail(runtime: Runtime, words: list[str], user: str) -> None:
    reply = run(runtime, " ".join(words), user=user)
    assert reply.strip()
    assert "Something went wrong" not in reply
    assert "Traceback" not in reply


# -- search and latest ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        pytest.param(
            "what's new on IPEF", "IPEF ministers sign supply chain agreement", id="question"
        ),
        pytest.param(
            '"entity list" since:30d', "BIS adds 36 entities to the Entity List", id="query"
        ),
        pytest.param("search latest chips", "Chips 4 alliance meets in Tokyo", id="search-verb"),
    ],
)
def test_a_question_or_query_is_answered_by_search(runtime: Runtime, text: str, title: str) -> None:
    reply = run(runtime, text)
    assert reply.startswith("1 result for ")
    assert title in reply


def test_search_can_find_backlog_items_too(runtime: Runtime) -> None:
    assert "Rare earth export quotas unchanged" in run(runtime, "rare earth")


@pytest.mark.parametrize(
    ("text", "header", "titles"),
    [
        pytest.param(
            "latest",
            "3 results for “latest”",
            ["Chips 4 alliance", "IPEF ministers", "BIS adds 36"],
            id="all",
        ),
        pytest.param(
            "latest 2", "2 results for “latest”", ["Chips 4 alliance", "IPEF ministers"], id="n"
        ),
        pytest.param(
            "latest ENTITY-LIST",
            "1 result for “latest on entity-list”",
            ["BIS adds 36"],
            id="topic",
        ),
        pytest.param("latest quiet", "No results for “latest from quiet”", [], id="empty-feed"),
        pytest.param(
            "latest trade 1", "1 result for “latest from trade”", ["Chips 4 alliance"], id="feed-n"
        ),
        pytest.param(
            "latest supply OR semiconductor",
            "2 results for “latest: supply OR semiconductor”",
            ["Chips 4 alliance", "IPEF ministers"],
            id="query-newest-first",
        ),
    ],
)
def test_latest_lists_the_newest_first(
    runtime: Runtime, text: str, header: str, titles: list[str]
) -> None:
    reply = run(runtime, text)
    assert reply.startswith(header)
    positions = [reply.find(title) for title in titles]
    assert all(p > 0 for p in positions)
    assert positions == sorted(positions)
    assert "Rare earth" not in reply  # backlog of the first poll


# -- subscriptions ---------------------------------------------------------------------


def test_subscribe_then_a_new_item_arrives_as_one_direct_message(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(runtime, "subscribe entity-list", poster=deliverer)
    [sub] = list_subscriptions(runtime.store, owner=MEMBER)
    assert reply == (
        f"Subscribed to topic entity-list (id {sub.id}): alerts by direct message as soon "
        f"as new items match.\n/brief mute {sub.id} pauses them, /brief unsubscribe {sub.id} "
        "stops them."
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
    assert f"Matched: {sub.id}" in text
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
    [sub] = list_subscriptions(runtime.store, owner=MEMBER)
    assert f"alerts by direct message {delivery}." in reply
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
        pytest.param(
            "subscribe #general ipef",
            "#general reached the bot as plain text, without the channel's id",
            id="bare-channel-name",
        ),
    ],
)
def test_subscribe_problems_are_explained(runtime: Runtime, text: str, problem: str) -> None:
    reply = run(runtime, text)
    assert reply.startswith(problem)
    assert "Usage: /brief subscribe <topic or query>" in reply
    assert list_subscriptions(runtime.store) == []


def test_subscribing_twice_is_refused(runtime: Runtime) -> None:
    run(runtime, "subscribe entity-list")
    reply = run(runtime, "subscribe ENTITY-LIST")
    assert reply.startswith("You are already subscribed to topic entity-list (s")


@dataclass
class SlackPoster:
    """The Deliverer plus the Web API client it posts with, as the Slack app can hand it over."""

    deliverer: Deliverer
    client: WebClient

    def post(
        self, channel: str, messages: Sequence[SlackMessage], *, metadata: Any = None
    ) -> DeliveryResult:
        return self.deliverer.post(channel, messages, metadata=metadata)

    def open_dm(self, user_id: str) -> str:
        return self.deliverer.open_dm(user_id)

    def already_delivered(self, channel: str, key: str, since_ts: str | float) -> bool:
        return self.deliverer.already_delivered(channel, key, since_ts)


def test_daily_subscription_takes_the_callers_slack_time_zone(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    fake_slack.add_user(MEMBER, tz="America/Chicago")
    poster = SlackPoster(deliverer, slack_client(fake_slack))

    reply = run(runtime, "subscribe ipef daily 08:00", poster=poster)

    assert "once a day at 08:00 (America/Chicago)" in reply
    assert [c.params.get("user") for c in fake_slack.calls("users.info")] == [MEMBER]
    run(runtime, "subscribe entity-list", poster=poster)  # immediate: no zone needed
    assert len(fake_slack.calls("users.info")) == 1


def test_an_admin_subscribes_a_channel_picked_in_slack(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    reply = run(runtime, "subscribe <#C0TRADE0001|trade-desk> ipef", user=ADMIN)
    [sub] = list_subscriptions(runtime.store, owner="C0TRADE0001")
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
    assert [s.topic for s in list_subscriptions(runtime.store, owner="C0TRADE0001")] == ["ipef"]


def test_subscriptions_list_mute_unmute_unsubscribe(runtime: Runtime) -> None:
    assert run(runtime, "subscriptions") == (
        "You have no subscriptions. Try /brief subscribe entity-list."
    )
    run(runtime, "subscribe entity-list")
    run(runtime, "subscribe chips daily 18:30")
    run(runtime, f"subscribe <#{CHANNEL}|briefing> ipef", user=ADMIN)
    topic_sub, query_sub = list_subscriptions(runtime.store, owner=MEMBER)
    [channel_sub] = list_subscriptions(runtime.store, owner=CHANNEL)

    assert run(runtime, "subscriptions") == (
        "Your subscriptions:\n"
        f"• {topic_sub.id}: topic entity-list · as soon as new items match\n"
        f"• {query_sub.id}: query chips · once a day at 18:30 (UTC)\n"
        "This channel's subscriptions:\n"
        f"• {channel_sub.id}: topic ipef · as soon as new items match · for {CHANNEL}"
    )

    assert run(runtime, f"mute {topic_sub.id.upper()}") == (
        f"Muted {topic_sub.id} (topic entity-list): no alerts until /brief unmute {topic_sub.id}."
    )
    assert f"{topic_sub.id}: topic entity-list · as soon as new items match · muted" in run(
        runtime, "subscriptions"
    )
    assert run(runtime, f"unmute {topic_sub.id}").startswith(f"Unmuted {topic_sub.id}")
    assert run(runtime, f"unsubscribe {query_sub.id}") == (
        f"Unsubscribed {query_sub.id} (query chips): no more alerts from it."
    )
    assert [s.id for s in list_subscriptions(runtime.store, owner=MEMBER)] == [topic_sub.id]


def test_nobody_else_may_change_a_subscription_but_an_admin(runtime: Runtime) -> None:
    run(runtime, "subscribe entity-list")
    [sub] = list_subscriptions(runtime.store, owner=MEMBER)

    reply = run(runtime, f"unsubscribe {sub.id}", user=OTHER)
    assert reply.startswith(f"You cannot remove subscription {sub.id}: only its owner")
    assert reply.endswith("Usage: /brief unsubscribe <id>")
    assert run(runtime, "unsubscribe s0000").startswith("There is no subscription 's0000'")

    assert run(runtime, f"mute {sub.id}", user=ADMIN).startswith(f"Muted {sub.id}")
    assert list_subscriptions(runtime.store)[0].muted


def test_admins_list_everyones_subscriptions(runtime: Runtime) -> None:
    run(runtime, "subscribe entity-list")
    run(runtime, "subscribe ipef", user=OTHER)
    every = run(runtime, "subscriptions all", user=ADMIN)
    assert every.startswith("All subscriptions:")
    assert f"· for {MEMBER}" in every and f"· for {OTHER}" in every
    theirs = run(runtime, f"subscriptions <@{OTHER}|olga>", user=ADMIN)
    assert theirs.startswith("Subscriptions of @olga:")
    assert "topic ipef" in theirs and "entity-list" not in theirs


def test_a_long_listing_is_split_into_messages_slack_accepts(runtime: Runtime) -> None:
    owners = [f"U0BULK{n:05d}" for n in range(4)]
    for owner in owners:
        for n in range(50):
            create_subscription(
                runtime.store,
                owner=owner,
                created_by=owner,
                topic_or_query=f'"export controls" OR semiconductor{n} OR "rare earth supply {n}"',
                topics=runtime.topics(),
                now=NOW,
            )
    reply = handle_command(runtime, CommandRequest(ADMIN, CHANNEL, "subscriptions all"))

    assert len(reply.messages) > 1
    for message in reply.messages:
        assert validate_message(message) == []
    text = plain(reply)
    assert text.startswith("All subscriptions:")
    ids = {s.id for s in list_subscriptions(runtime.store)}
    assert len(ids) == 200
    assert all(text.count(f"• {sub_id}: ") == 1 for sub_id in ids)


# -- admin only -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "action"),
    [
        pytest.param("feed add https://example.org/rss", "add feeds", id="feed-add"),
        pytest.param("feed remove trade", "remove feeds", id="feed-remove"),
        pytest.param("feed pause trade", "pause feeds", id="feed-pause"),
        pytest.param("feed resume trade", "resume feeds", id="feed-resume"),
        pytest.param("feed poll", "poll feeds", id="feed-poll"),
        pytest.param("schedule 08:30", "change the digest schedule", id="schedule"),
        pytest.param("schedule off", "change the digest schedule", id="schedule-off"),
        pytest.param("digest post", "post the digest", id="digest-post"),
        pytest.param(
            "subscribe <#C0TRADE0001|trade> ipef", "subscribe a channel", id="channel-sub"
        ),
        pytest.param("subscriptions all", "list everyone's subscriptions", id="subscriptions-all"),
    ],
)
def test_members_are_refused_admin_commands(runtime: Runtime, text: str, action: str) -> None:
    before = (runtime.config, runtime.store.records("subscriptions"))
    assert run(runtime, text) == f"Only admins can {action}. Admins: {ADMIN}."
    assert (runtime.config, runtime.store.records("subscriptions")) == before


def test_without_admins_the_refusal_says_how_to_name_them(
    tmp_path: Path, feeds: FeedServer
) -> None:
    config = make_config(tmp_path / "data", {"a": feeds.url("/a.xml")}, admins=())
    with Runtime.open(config) as rt:
        reply = run(rt, "feed pause a", user=ADMIN)
    assert reply == (
        "Only admins can pause feeds. No admins are configured: add Slack user ids under "
        "admins: in feeds.yaml."
    )


# -- topics, feeds, status ----------------------------------------------------------------


def test_topics_lists_id_priority_description_and_query(runtime: Runtime) -> None:
    assert run(runtime, "topics") == (
        "2 topics (subscribe with /brief subscribe ID):\n"
        "• entity-list (priority 10): BIS Entity List changes\n"
        'query: "entity list"\n'
        "• ipef: IPEF talks\n"
        "query: ipef OR indo-pacific"
    )


def test_feeds_pause_resume_remove_and_add(
    runtime: Runtime, feeds: FeedServer, tmp_path: Path
) -> None:
    assert run(runtime, "feeds") == (
        "2 feeds, 2 enabled:\n"
        "• trade · tags: trade · every 30m · enabled\n"
        "• quiet · tags: trade · every 30m · enabled"
    )
    assert run(runtime, "feed pause quiet", user=ADMIN) == (
        "Paused feed quiet: not polled until /brief feed resume quiet."
    )
    paused = runtime.config.feed("quiet")
    assert paused is not None and not paused.enabled
    assert "• quiet · tags: trade · every 30m · paused" in run(runtime, "feeds")
    requests_before = len(feeds.requests("/quiet.xml"))
    runtime.poll(force=True)
    assert len(feeds.requests("/quiet.xml")) == requests_before

    assert run(runtime, "feed resume quiet", user=ADMIN).startswith("Resumed feed quiet")
    resumed = runtime.config.feed("quiet")
    assert resumed is not None and resumed.enabled

    assert run(runtime, "feed remove quiet", user=ADMIN) == (
        "Removed feed quiet. It is in feeds.yaml: /brief feed resume quiet brings it back."
    )
    assert runtime.config.feed("quiet") is None
    assert run(runtime, "feeds").endswith(
        "Removed from Slack: quiet (/brief feed resume ID brings one back)."
    )

    reply = run(runtime, "feed add <https://example.org/news/feed.xml> eu #chips", user=ADMIN)
    assert reply.startswith(
        "Added feed example-org-news-feed (https://example.org/news/feed.xml), polled every 30m."
    )
    added = runtime.config.feed("example-org-news-feed")
    assert added is not None
    assert (added.tags, added.allow_private) == (("eu", "chips"), False)
    listed = "• example-org-news-feed · tags: eu, chips · every 30m · enabled · added from Slack"
    assert f"{listed} by {ADMIN}" in run(runtime, "feeds")

    # A restart reads the changes back from the store.
    base = runtime.base_config
    runtime.close()
    with Runtime.open(base) as again:
        assert [(f.id, f.enabled) for f in again.config.feeds] == [
            ("trade", True),
            ("example-org-news-feed", True),
        ]


def test_unknown_feed_ids_are_named(runtime: Runtime) -> None:
    reply = run(runtime, "feed pause nope", user=ADMIN)
    assert reply.startswith("There is no feed 'nope': /brief feeds lists them")
    assert run(runtime, "feed poll nope", user=ADMIN).startswith("there is no feed 'nope'")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("http://127.0.0.1:9/feed", "127.0.0.1 is a loopback address", id="loopback"),
        pytest.param("http://2130706433/feed", "is the address 127.0.0.1", id="decimal"),
        pytest.param("file:///etc/passwd", "must start with http:// or https://", id="file"),
    ],
)
def test_feed_add_refuses_private_and_non_http_urls(
    runtime: Runtime, url: str, problem: str
) -> None:
    reply = run(runtime, f"feed add {url}", user=ADMIN)
    assert reply.startswith(f"cannot add {url}: ")
    assert problem in reply
    assert len(runtime.config.feeds) == 2


def test_a_feed_added_from_slack_may_not_reach_loopback_when_polled(
    runtime: Runtime, feeds: FeedServer
) -> None:
    host = socket.gethostname()
    try:
        address = socket.gethostbyname(host)
    except OSError:
        pytest.skip(f"the host name {host} does not resolve here")
    if not address.startswith("127."):
        pytest.skip(f"the host name {host} resolves to {address}, not loopback")
    feeds.add("/inside.xml", make_rss(NEW))
    url = feeds.url("/inside.xml").replace("127.0.0.1", host)
    run(runtime, f"feed add {url}", user=ADMIN)
    [added] = [f for f in runtime.config.feeds if f.url == url]

    reply = run(runtime, f"feed poll {added.id}", user=ADMIN)

    assert reply.startswith("Polled 1 feed:\n")
    assert f"• {added.id}: failed: refused: {host} resolves to {address}, a loopback" in reply
    assert feeds.requests("/inside.xml") == []
    status = run(runtime, "status")
    assert f"{added.id} · failing" in status
    assert f"refused: {host} resolves to {address}" in status


def test_feed_poll_reports_each_feed_and_sends_alerts(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    run(runtime, "subscribe ipef")
    feeds.add(
        "/trade.xml",
        make_rss([Entry("IPEF digital trade", "https://example.org/d", guid="d"), *NEW]),
    )
    reply = run(runtime, "feed poll", user=ADMIN, poster=deliverer)
    assert reply == (
        "Polled 2 feeds:\n"
        "• trade: 1 new, 3 already seen\n"
        "• quiet: 0 new, 0 already seen\n"
        "Alerts sent: 1 item in 1 message."
    )
    [dm] = fake_slack.messages("D" + MEMBER)
    assert "IPEF digital trade" in slack_text(dm)


def test_feed_poll_without_slack_keeps_alerts_queued(runtime: Runtime, feeds: FeedServer) -> None:
    run(runtime, "subscribe ipef")
    feeds.add(
        "/trade.xml",
        make_rss([Entry("IPEF digital trade", "https://example.org/d", guid="d"), *NEW]),
    )
    reply = run(runtime, "feed poll trade", user=ADMIN)
    assert reply == (
        "Polled 1 feed:\n"
        "• trade: 1 new, 3 already seen\n"
        "Alerts stay queued: no Slack connection here (briefbot run sends them)."
    )
    assert run(runtime, "feed pause trade", user=ADMIN).startswith("Paused")
    assert run(runtime, "feed poll trade", user=ADMIN).startswith(
        "feed trade is paused: /brief feed resume trade first"
    )


def test_status_shows_feed_health_and_delivery_problems(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    feeds.add("/quiet.xml", b"gone", status=500)
    runtime.poll(force=True)
    fake_slack.add_channel("C0LOCKED001", member=False)
    run(runtime, "subscribe <#C0LOCKED001|locked> ipef", user=ADMIN)
    feeds.add("/trade.xml", make_rss([Entry("IPEF news", "https://example.org/n", guid="n"), *NEW]))
    runtime.poll(force=True)
    runtime.dispatch_alerts(deliverer)

    reply = run(runtime, "status")

    assert reply.startswith("2 feeds: 1 ok · 1 failing")
    assert "trade trade · updated" in reply
    assert "quiet quiet · failing since" in reply
    assert "(2 failures): HTTP 500 Internal Server Error" in reply
    assert re.search(
        r"Delivery problems:\n• C0LOCKED001: cannot post to C0LOCKED001: not_in_channel — "
        r"invite the bot with /invite @briefbot \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$",
        reply,
    )


# -- digests and schedules --------------------------------------------------------------


def test_digest_preview_shows_the_items_and_moves_nothing(runtime: Runtime) -> None:
    assert runtime.store.get_record(DIGEST_TABLE, CHANNEL) is None
    first = run(runtime, "digest")
    assert first.startswith(
        "Preview of this channel's digest, only you can see it (no digest is scheduled here: "
        "this uses the defaults). An admin can post it with /brief digest post."
    )
    # The digest groups by topic: the chips story matches none, the old one was backlog.
    assert "BIS adds 36 entities to the Entity List" in first
    assert "IPEF ministers sign supply chain agreement" in first
    assert "Chips 4" not in first
    assert "Rare earth" not in first
    assert runtime.store.get_record(DIGEST_TABLE, CHANNEL) is None
    assert run(runtime, "digest") == first


def test_digest_post_by_an_admin_reaches_the_channel_once(
    runtime: Runtime, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    assert (
        run(runtime, "digest post", user=ADMIN) == "digest post needs Slack: set SLACK_BOT_TOKEN."
    )

    reply = run(runtime, "digest post", user=ADMIN, poster=deliverer)

    assert reply == "Posted this channel's digest (2 items)."
    [posted] = fake_slack.messages(CHANNEL)
    assert "BIS adds 36 entities to the Entity List" in slack_text(posted)
    assert run(runtime, "digest").startswith("Nothing new for this channel since its last digest")
    assert run(runtime, "digest post", user=ADMIN, poster=deliverer) == (
        "Nothing new since the last digest: nothing was posted."
    )
    assert len(fake_slack.messages(CHANNEL)) == 1


def test_schedule_creates_this_channels_digest(runtime: Runtime) -> None:
    notified: list[str] = []
    runtime.config_listeners.append(lambda: notified.append("refreshed"))
    assert run(runtime, "schedule").startswith("No digest is scheduled for this channel.")

    reply = run(runtime, "schedule 07:30 asia/tokyo mon-fri", user=ADMIN)

    assert reply.startswith(
        "Schedule saved. This channel's digest: 07:30 Asia/Tokyo, mon-fri; all topics, "
        "up to 20 items. Next: "
    )
    assert reply.endswith("07:30 (Asia/Tokyo).")
    digest = runtime.config.digest(CHANNEL)
    assert digest is not None
    assert (f"{digest.at:%H:%M}", digest.timezone, digest.days) == (
        "07:30",
        "Asia/Tokyo",
        frozenset(range(5)),
    )
    assert notified == ["refreshed"]

    run(runtime, "schedule 06:00", user=ADMIN)  # keeps the zone and the days
    digest = runtime.config.digest(CHANNEL)
    assert digest is not None
    assert (f"{digest.at:%H:%M}", digest.timezone, digest.days) == (
        "06:00",
        "Asia/Tokyo",
        frozenset(range(5)),
    )
    assert run(runtime, "digest").startswith(
        "Preview of this channel's digest, only you can see it. "
    )

    assert run(runtime, "schedule off", user=ADMIN).startswith(
        "Removed the schedule set from Slack. No digest is scheduled for this channel."
    )
    assert runtime.config.digest(CHANNEL) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("schedule 8h", "'8h' is not a time of day such as 08:30", id="time"),
        pytest.param("schedule 25:00", "At '25:00' is not a time of day", id="hour"),
        pytest.param("schedule 08:00 Asia/Tokio", "did you mean 'Asia/Tokyo'?", id="zone"),
        pytest.param(
            "schedule 08:00 UTC Asia/Tokyo", "'Asia/Tokyo' is neither a time zone", id="two-zones"
        ),
        pytest.param("schedule 08:00 mon-fri weekends", "give the days once", id="two-days"),
    ],
)
def test_schedule_problems_are_explained(runtime: Runtime, text: str, problem: str) -> None:
    reply = run(runtime, text, user=ADMIN)
    assert problem in reply.split("\n")[0]
    assert reply.split("\n")[-1].startswith("Usage: /brief schedule")
    assert runtime.config.digest(CHANNEL) is None


def test_schedule_needs_a_channel(runtime: Runtime) -> None:
    reply = run(runtime, "schedule 08:00", user=ADMIN, channel="D0DIRECT001")
    assert reply.startswith("schedule sets a channel's digest: run it in the channel")
