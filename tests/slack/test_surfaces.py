"""The Home tab, buttons and forms end to end: signed payloads in, what the user sees out.

Everything is real: the Runtime of tests/slack/conftest.py (one Entity List
story and one other, topic entity-list), the Bolt app built with `Surfaces`
serving signed HTTP requests and the local Socket Mode server, the fake Slack
Web API keeping the published Home tabs and modals (and refusing any that
breaks Block Kit's limits), a loopback response_url for ephemeral replies.
Payloads are shaped as Slack sends them (tests/support/slackpayloads.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app.runtime import Runtime
from bot.app.surfaces import Surfaces
from bot.brief.subscriptions import create_subscription
from bot.config.model import SlackSecrets
from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts
from bot.models import Subscription
from bot.slack.app import build_app
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.http import ServerHandle, serve_http
from bot.slack.socketmode import serve_socket_mode
from tests.slack.conftest import ENTITY_TITLE
from tests.support.fakeslack import FakeSlack
from tests.support.fakeviews import StoredView
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet
from tests.support.responseurl import ResponseUrlServer
from tests.support.secretscan import SIGNING_SECRET
from tests.support.slackhttp import Recorder, command_form, post_command
from tests.support.slackpayloads import (
    block_actions,
    envelope,
    home_opened,
    post_event,
    post_interaction,
    select,
    text_value,
    view_submission,
)
from tests.support.wsserver import SocketModeServer, wait_until

ADMIN = "U0123456789"


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture, fake_slack: FakeSlack) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text + "".join(str(r.msg) for r in caplog.records)
    for secret in (fake_slack.token, fake_slack.app_token, SIGNING_SECRET):
        assert secret not in text, "a Slack secret reached the log"


@pytest.fixture
def surfaces(runtime: Runtime, secrets: SlackSecrets) -> Surfaces:
    return Surfaces(runtime, Deliverer(make_web_client(secrets)))


@pytest.fixture
def app_server(
    secrets: SlackSecrets, recorder: Recorder, surfaces: Surfaces
) -> Iterator[ServerHandle]:
    server = serve_http(build_app(secrets, recorder, surfaces=surfaces), port=0, host="127.0.0.1")
    try:
        yield server
    finally:
        server.stop()


def subscribe(runtime: Runtime, owner: str = "U0ALICE", what: str = "entity-list") -> Subscription:
    with runtime.store.transaction() as tx:
        return create_subscription(
            tx,
            owner=owner,
            created_by=owner,
            topic_or_query=what,
            topics=runtime.topics(),
            now=runtime.clock(),
        )


def texts(view: StoredView | None) -> str:
    """Every text of a view's blocks (buttons' labels in [brackets]), one per line."""
    assert view is not None, "no view was published"
    lines: list[str] = []
    for block in view.blocks:
        for obj in [block.get("text"), *block.get("elements", []), block.get("accessory")]:
            if isinstance(obj, dict) and obj.get("type") == "button":
                lines.append(f"[{obj['text']['text']}]")
            elif isinstance(obj, dict) and isinstance(obj.get("text"), str):
                lines.append(obj["text"])
    return "\n".join(lines)


def buttons(view: StoredView) -> dict[tuple[str, str], str]:
    """(action_id, value) -> label of every button in the view."""
    found: dict[tuple[str, str], str] = {}
    for block in view.blocks:
        for obj in [*block.get("elements", []), block.get("accessory")]:
            if isinstance(obj, dict) and obj.get("type") == "button":
                found[(obj["action_id"], obj.get("value", ""))] = obj["text"]["text"]
    return found


def stored_view(view: StoredView) -> dict[str, Any]:
    """The view as Slack puts it in a payload (id, hash, type, blocks...)."""
    return view.public()


# --------------------------------------------------------------------------- the Home tab


def test_opening_the_home_tab_publishes_subscriptions_items_feeds(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack
) -> None:
    sub = subscribe(runtime)
    answer = post_event(app_server, home_opened("U0ALICE"))

    assert answer.status == 200 and answer.seconds < 3.0
    assert wait_until(lambda: fake_slack.views.home("U0ALICE") is not None)
    home = fake_slack.views.home("U0ALICE")
    assert home is not None
    shown = texts(home)
    assert f"`{sub.id}` topic entity-list" in shown
    assert "as soon as new items match" in shown
    assert ENTITY_TITLE in shown  # this week's item on the subscription
    assert "Chips 4" not in shown  # not on any of Alice's subscriptions
    assert "*Feeds*: 1 feed, 1 ok" in shown
    assert buttons(home) == {
        ("home.new_subscription", "new"): "New subscription",
        ("subscription.mute", sub.id): "Mute",
        ("subscription.remove", sub.id): "Remove",
    }
    assert len(home.blocks) <= 100


def test_the_home_tab_lists_upcoming_federal_register_deadlines(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack
) -> None:
    [item] = [i for i in runtime.latest(limit=10) if i.title == ENTITY_TITLE]
    today = runtime.clock().date()
    facts = FederalRegisterFacts(
        document_number="2024-01234",
        type="Rule",
        citation="89 FR 1064",
        effective_on=today + timedelta(days=20),
        comments_close_on=today + timedelta(days=5),
    )
    past = FederalRegisterFacts(
        document_number="2023-00001", type="Rule", effective_on=today - timedelta(days=1)
    )
    [other] = [i for i in runtime.latest(limit=10) if i.title != ENTITY_TITLE]
    with runtime.store.transaction() as tx:
        tx.items.update_extras(item.feed_id, item.id, {EXTRAS_KEY: facts.as_extras()})
        tx.items.update_extras(other.feed_id, other.id, {EXTRAS_KEY: past.as_extras()})
    post_event(app_server, home_opened("U0ALICE"))
    assert wait_until(lambda: fake_slack.views.home("U0ALICE") is not None)
    shown = texts(fake_slack.views.home("U0ALICE"))
    close = f"{today + timedelta(days=5):%a %d %b %Y}* · comments close · <"
    effective = f"{today + timedelta(days=20):%a %d %b %Y}* · effective · <"
    assert close in shown and effective in shown
    assert shown.index(close) < shown.index(effective)  # soonest first, one per line
    assert "(89 FR 1064)\n•" in shown
    assert "Chips 4" not in shown  # its only date is past


def test_the_messages_tab_publishes_nothing(
    app_server: ServerHandle, fake_slack: FakeSlack, recorder: Recorder
) -> None:
    assert post_event(app_server, home_opened("U0ALICE", tab="messages")).status == 200
    assert post_event(app_server, home_opened("U0BOB")).status == 200
    assert wait_until(lambda: fake_slack.views.home("U0BOB") is not None)
    assert fake_slack.views.home("U0ALICE") is None


def test_admins_see_the_schedule_and_feed_buttons(
    app_server: ServerHandle, fake_slack: FakeSlack
) -> None:
    post_event(app_server, home_opened(ADMIN))
    assert wait_until(lambda: fake_slack.views.home(ADMIN) is not None)
    home = fake_slack.views.home(ADMIN)
    assert home is not None
    assert ("home.schedule", "schedule") in buttons(home)
    assert ("home.add_feed", "feed") in buttons(home)
    assert "No subscriptions yet" in texts(home)


def test_brief_subscribe_republishes_the_home_tab(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack, responses: ResponseUrlServer
) -> None:
    post_command(app_server, command_form("subscribe entity-list", responses.url("sub")))
    responses.wait("sub")
    assert wait_until(lambda: fake_slack.views.home("U0ALICE") is not None)
    [sub] = runtime.store.subscriptions.list(owner="U0ALICE")
    assert f"`{sub.id}` topic entity-list" in texts(fake_slack.views.home("U0ALICE"))


# --------------------------------------------------------------------------- buttons


def test_mute_on_an_alert_mutes_once_and_answers_the_presser_only(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack, responses: ResponseUrlServer
) -> None:
    sub = subscribe(runtime)
    press = block_actions("subscription.mute", sub.id, response_url=responses.url("mute"))
    answer = post_interaction(app_server, press)
    again = post_interaction(
        app_server,
        block_actions("subscription.mute", sub.id, response_url=responses.url("mute")),
    )

    assert answer.status == 200 and again.status == 200
    [reply] = responses.wait("mute")
    assert reply.payload["response_type"] == "ephemeral"
    assert reply.payload["replace_original"] is False
    assert f"Muted {sub.id} (topic entity-list)" in reply.everything
    stored = runtime.store.subscriptions.get(sub.id)
    assert stored is not None and stored.muted
    # The Home tab now offers Unmute.
    assert wait_until(lambda: fake_slack.views.home("U0ALICE") is not None)
    home = fake_slack.views.home("U0ALICE")
    assert home is not None
    assert ("subscription.unmute", sub.id) in buttons(home)
    assert "*muted*" in texts(home)
    # The double click was dropped: one reply, one write.
    assert len(responses.replies("mute")) == 1


def test_an_alerts_buttons_name_the_subscription_each_row_is_for(
    app_server: ServerHandle,
    runtime: Runtime,
    fake_slack: FakeSlack,
    feed_server: FeedServer,
    secrets: SlackSecrets,
    responses: ResponseUrlServer,
) -> None:
    topic = subscribe(runtime)
    query = subscribe(runtime, what='ymtc OR "working group"')
    long_query = subscribe(runtime, what="ymtc OR " + " OR ".join(f"word{n}" for n in range(30)))
    feed_server.add(
        "/bis.xml",
        make_rss([Entry("YMTC working group added to the Entity List", "https://example.org/n")]),
    )
    runtime.poll(force=True)
    runtime.dispatch_alerts(Deliverer(make_web_client(secrets)))

    [alert] = fake_slack.messages()
    rows: dict[tuple[str, str], str] = {}
    for block in alert.blocks or []:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["action_id"] != "item.more_like_this":
                rows[(element["action_id"], element["value"])] = element["text"]["text"]
    assert rows[("subscription.mute", topic.id)] == "Mute topic entity-list"
    assert rows[("subscription.remove", topic.id)] == "Remove topic entity-list"
    assert rows[("subscription.mute", query.id)] == 'Mute query ymtc OR "working group"'
    assert rows[("subscription.remove", query.id)] == 'Remove query ymtc OR "working group"'
    # Too long for a button (75 characters): shortened, with its id to tell it apart.
    long_label = rows[("subscription.remove", long_query.id)]
    assert long_label.startswith("Remove query ymtc OR word0 OR word1")
    assert long_label.endswith(f"… ({long_query.id})") and len(long_label) <= 75
    assert rows[("subscription.mute", long_query.id)].endswith(f"… ({long_query.id})")

    # The row's Mute mutes that subscription, not the others.
    press = block_actions("subscription.mute", query.id, response_url=responses.url("q"))
    post_interaction(app_server, press)
    [reply] = responses.wait("q")
    assert reply.payload["text"].startswith(f'Muted {query.id} (query ymtc OR "working group")')
    muted = {s.id: s.muted for s in runtime.store.subscriptions.list(owner="U0ALICE")}
    assert muted == {topic.id: False, query.id: True, long_query.id: False}


def test_a_button_for_a_removed_subscription_answers_politely(
    app_server: ServerHandle, runtime: Runtime, responses: ResponseUrlServer
) -> None:
    sub = subscribe(runtime)
    post_interaction(
        app_server,
        block_actions("subscription.remove", sub.id, response_url=responses.url("rm")),
    )
    [removed] = responses.wait("rm")
    assert f"Removed {sub.id}" in removed.everything
    assert runtime.store.subscriptions.get(sub.id) is None

    # The Mute button of the same old alert, pressed afterwards.
    post_interaction(
        app_server,
        block_actions("subscription.mute", sub.id, response_url=responses.url("old")),
    )
    [old] = responses.wait("old")
    assert f"Subscription {sub.id} no longer exists" in old.everything
    assert runtime.store.subscriptions.list(owner="U0ALICE") == []


def test_more_like_this_and_show_all_answer_ephemerally(
    app_server: ServerHandle,
    runtime: Runtime,
    responses: ResponseUrlServer,
    feed_server: FeedServer,
) -> None:
    similar = "Entity List: more additions in Japan"
    feed_server.add(
        "/bis.xml",
        make_rss(
            [
                Entry(similar, "https://www.federalregister.gov/d/2024-05678"),
                Entry(ENTITY_TITLE, "https://www.federalregister.gov/d/2024-01234"),
                Entry("Chips 4 working group meets in Taipei", "https://example.org/chips4"),
            ]
        ),
    )
    runtime.poll(force=True)
    [item] = [i for i in runtime.latest(limit=10) if i.title == ENTITY_TITLE]
    post_interaction(
        app_server,
        block_actions("item.more_like_this", str(item.seq), response_url=responses.url("like")),
    )
    [like] = responses.wait("like")
    assert like.payload["response_type"] == "ephemeral"
    assert "more like: Additions to the Entity List" in like.everything
    assert similar in like.everything
    assert "Chips 4" not in like.everything

    post_interaction(
        app_server,
        block_actions(
            "digest.show_all", "latest 2", channel_id="C0NEWS", response_url=responses.url("all")
        ),
    )
    [shown] = responses.wait("all")
    assert similar in shown.everything and "Chips 4" in shown.everything

    # A value that is not a `latest` line runs nothing.
    post_interaction(
        app_server,
        block_actions("digest.show_all", "feed remove fr-bis", response_url=responses.url("x")),
    )
    [refused] = responses.wait("x")
    assert "does not work" in refused.everything
    assert runtime.config.feed("fr-bis") is not None


def test_subscribe_to_this_topic_from_a_digest(
    app_server: ServerHandle, runtime: Runtime, responses: ResponseUrlServer
) -> None:
    for name in ("t1", "t2"):
        post_interaction(
            app_server,
            block_actions(
                "topic.subscribe",
                "entity-list",
                channel_id="C0NEWS",
                message_ts=f"1767000000.00020{name[-1]}",
                response_url=responses.url(name),
            ),
        )
    [first] = responses.wait("t1")
    [second] = responses.wait("t2")
    assert "Subscribed to topic entity-list" in first.everything
    assert "already subscribed to topic entity-list" in second.everything
    assert [s.topic for s in runtime.store.subscriptions.list(owner="U0ALICE")] == ["entity-list"]


# --------------------------------------------------------------------------- forms


def open_subscription_form(app_server: ServerHandle, fake_slack: FakeSlack) -> StoredView:
    post_event(app_server, home_opened("U0ALICE"))
    assert wait_until(lambda: fake_slack.views.home("U0ALICE") is not None)
    home = fake_slack.views.home("U0ALICE")
    assert home is not None
    press = block_actions("home.new_subscription", "new", view=stored_view(home))
    assert post_interaction(app_server, press).status == 200
    assert wait_until(lambda: bool(fake_slack.views.modals()))
    [modal] = fake_slack.views.modals()
    assert modal.trigger_id == press["trigger_id"]
    return modal


def form_state(
    query: str | None, *, topic: str | None = None, mode: str = "immediate", zone: str = "UTC"
) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "topic": {"subscribe.topic": select("static_select", topic)},
        "query": {"subscribe.query": text_value(query)},
        "delivery": {"subscribe.mode": select("radio_buttons", mode)},
        "daily_at": {"subscribe.time": {"type": "timepicker", "selected_time": "07:45"}},
        "timezone": {"subscribe.zone": text_value(zone)},
    }


def test_new_subscription_form_previews_then_subscribes(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack
) -> None:
    modal = open_subscription_form(app_server, fake_slack)
    assert "Pick a topic or type a query" in texts(modal)

    # The query typed, Enter: the preview counts what it would have matched.
    typed = {**stored_view(modal), "state": {"values": form_state('"working group"')}}
    element = {"type": "plain_text_input", "value": '"working group"'}
    press = block_actions("subscribe.query", view=typed, element=element)
    post_interaction(app_server, press)
    assert wait_until(lambda: "*1 item*" in texts(fake_slack.views.get(modal.id)))
    assert "would have matched *1 item* in the last 30 days" in texts(
        fake_slack.views.get(modal.id)
    )

    # Submitted: daily at 07:45 Tokyo time.
    current = fake_slack.views.get(modal.id)
    assert current is not None
    values = form_state('"working group"', mode="daily", zone="asia/tokyo")
    answer = post_interaction(app_server, view_submission(stored_view(current), values))
    assert answer.status == 200 and answer.body == b""
    assert wait_until(lambda: bool(runtime.store.subscriptions.list(owner="U0ALICE")))
    [sub] = runtime.store.subscriptions.list(owner="U0ALICE")
    assert (sub.query, sub.mode, sub.daily_at, sub.timezone) == (
        '"working group"',
        "daily",
        "07:45",
        "Asia/Tokyo",
    )
    assert wait_until(lambda: "Subscribed to query" in texts(fake_slack.views.home("U0ALICE")))


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        pytest.param(form_state(None), "topic", "Pick a topic or type a query", id="nothing"),
        pytest.param(form_state('"unclosed'), "query", "does not work", id="bad-query"),
        pytest.param(
            form_state("chips", zone="Mars/Olympus"), "timezone", "Unknown time zone", id="zone"
        ),
        pytest.param(
            form_state("chips", topic="entity-list"), "query", "not both", id="topic-and-query"
        ),
    ],
)
def test_a_wrong_field_comes_back_as_an_error_beside_it(
    app_server: ServerHandle,
    runtime: Runtime,
    fake_slack: FakeSlack,
    values: dict[str, dict[str, dict[str, Any]]],
    field: str,
    words: str,
) -> None:
    modal = open_subscription_form(app_server, fake_slack)
    answer = post_interaction(app_server, view_submission(stored_view(modal), values))

    assert answer.status == 200 and answer.seconds < 3.0

    body = json.loads(answer.body)
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [field]
    assert words in body["errors"][field]
    assert runtime.store.subscriptions.list(owner="U0ALICE") == []


def test_feed_form_fetches_the_feed_before_saving_it(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack, feed_server: FeedServer
) -> None:
    # The feed server plays a public host (a feed added from Slack may not be on loopback).
    runtime.network = loopback_internet(FakeResolver({"feeds.example": ["127.0.0.1"]}))
    feed_server.add("/new.xml", make_rss([Entry("A new feed's item", "https://example.org/a")]))
    base = f"http://feeds.example:{feed_server.port}"
    post_event(app_server, home_opened(ADMIN))
    assert wait_until(lambda: fake_slack.views.home(ADMIN) is not None)
    home = fake_slack.views.home(ADMIN)
    assert home is not None
    post_interaction(
        app_server, block_actions("home.add_feed", "feed", user_id=ADMIN, view=stored_view(home))
    )
    assert wait_until(lambda: bool(fake_slack.views.modals()))
    [modal] = fake_slack.views.modals()

    def submit(path: str) -> None:
        values = {
            "url": {"feed.url": text_value(base + path)},
            "tags": {"feed.tags": text_value("japan")},
        }
        view = fake_slack.views.get(modal.id)
        assert view is not None
        answer = post_interaction(
            app_server, view_submission(stored_view(view), values, user_id=ADMIN)
        )
        # Fetching takes longer than Slack waits: the ack shows "Checking the feed...".
        assert json.loads(answer.body)["response_action"] == "update"
        assert answer.seconds < 3.0

    # A URL that answers 404: the form comes back with the problem and the URL kept.
    submit("/missing.xml")
    assert wait_until(lambda: "Nothing was saved" in texts(fake_slack.views.get(modal.id)))
    again = fake_slack.views.get(modal.id)
    assert again is not None and "404" in texts(again)
    assert [f.id for f in runtime.config.feeds] == ["fr-bis"]

    submit("/new.xml")
    assert wait_until(lambda: "Added feed" in texts(fake_slack.views.get(modal.id)))
    added = [f for f in runtime.config.feeds if f.id != "fr-bis"]
    assert [(f.url, f.tags) for f in added] == [(base + "/new.xml", ("japan",))]
    assert wait_until(lambda: "Added feed" in texts(fake_slack.views.home(ADMIN)))


def test_non_admins_cannot_submit_the_admin_forms(
    app_server: ServerHandle, runtime: Runtime, fake_slack: FakeSlack
) -> None:
    view = {
        "id": "V0FORGED",
        "hash": "1.forged",
        "type": "modal",
        "callback_id": "form.feed",
        "blocks": [],
        "private_metadata": "",
    }
    values = {"url": {"feed.url": text_value("https://example.org/feed.xml")}}
    answer = post_interaction(app_server, view_submission(view, values, user_id="U0ALICE"))

    body = json.loads(answer.body)
    assert body["response_action"] == "errors"
    assert "Only admins" in body["errors"]["url"]
    assert [f.id for f in runtime.config.feeds] == ["fr-bis"]


# --------------------------------------------------------------------------- Socket Mode


def test_socket_mode_home_button_and_form_errors(
    runtime: Runtime,
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    recorder: Recorder,
    surfaces: Surfaces,
    responses: ResponseUrlServer,
) -> None:
    sub = subscribe(runtime)
    fake_slack.socket_mode_url = socket_server.url
    handle = serve_socket_mode(
        build_app(secrets, recorder, surfaces=surfaces), fake_slack.app_token
    )
    try:
        connection = socket_server.wait_for_connections(1)
        socket_server.send(connection, envelope("events_api", home_opened("U0ALICE"), "e-home"))
        assert socket_server.wait_for(connection, lambda m: m.get("envelope_id") == "e-home")
        assert wait_until(lambda: fake_slack.views.home("U0ALICE") is not None)

        press = block_actions("subscription.mute", sub.id, response_url=responses.url("m"))
        socket_server.send(connection, envelope("interactive", press, "e-mute"))
        assert socket_server.wait_for(connection, lambda m: m.get("envelope_id") == "e-mute")
        [reply] = responses.wait("m")
        assert f"Muted {sub.id}" in reply.everything

        modal = {"id": "V0SOCKET", "hash": "1.x", "type": "modal", "callback_id": "form.subscribe"}
        submit = view_submission({**modal, "blocks": []}, form_state('"unclosed'))
        socket_server.send(connection, envelope("interactive", submit, "e-form"))
        ack = socket_server.wait_for(connection, lambda m: m.get("envelope_id") == "e-form")
        assert ack["payload"]["response_action"] == "errors"
        assert "does not work" in ack["payload"]["errors"]["query"]
    finally:
        handle.stop()
    stored = runtime.store.subscriptions.get(sub.id)
    assert stored is not None and stored.muted
