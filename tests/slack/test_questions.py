"""Questions in a DM and in the assistant panel: signed events through the real Bolt app.

The event bodies are shaped as Slack sends them (the Events API's
`event_callback` around a `message` of `channel_type` "im", an
`assistant_thread_started`, an edit's `message_changed`; shapes as in
bolt-python's own scenario tests), signed with the signing secret, posted to
`/slack/events` in HTTP mode or sent in an `events_api` envelope over the
local Socket Mode server. The answers are read where a user would see them:
the messages the fake Slack received, the assistant thread's status, title
and suggested prompts.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.app.questions import handle_question
from bot.app.runtime import Runtime
from bot.config.model import LanguageModel, SlackSecrets
from bot.llm import Summarizer
from bot.models import QuestionRequest, SlackMessage
from bot.slack.app import build_app
from bot.slack.http import ServerHandle, serve_http
from bot.slack.questions import STATUS, SUGGESTED_PROMPTS, QuestionHandler
from bot.slack.socketmode import SocketModeHandle, serve_socket_mode
from tests.slack.conftest import ENTITY_TITLE
from tests.support.chatserver import ChatServer
from tests.support.fakeslack import FakeSlack
from tests.support.secretscan import LLM_KEY, SIGNING_SECRET
from tests.support.slackhttp import HttpAnswer, Recorder, post, sign
from tests.support.wsserver import SocketModeServer, wait_until

ALICE = "U0ALICE"
_ids = itertools.count(1)


class Asked:
    """The real question handler, noting every request that reached it."""

    def __init__(self, runtime: Runtime) -> None:
        self.inner: QuestionHandler = functools.partial(handle_question, runtime)
        self.requests: list[QuestionRequest] = []

    def __call__(self, request: QuestionRequest) -> list[SlackMessage]:
        self.requests.append(request)
        return self.inner(request)


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture, fake_slack: FakeSlack) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text + "".join(str(r.msg) for r in caplog.records)
    for secret in (fake_slack.token, fake_slack.app_token, SIGNING_SECRET):
        assert secret not in text, "a Slack secret reached the log"


@pytest.fixture
def asked(runtime: Runtime) -> Asked:
    return Asked(runtime)


@pytest.fixture
def http_questions(
    secrets: SlackSecrets, recorder: Recorder, asked: Asked, fake_slack: FakeSlack
) -> Iterator[ServerHandle]:
    fake_slack.add_user(ALICE, name="alice", tz="Asia/Tokyo")
    server = serve_http(build_app(secrets, recorder, questions=asked), port=0, host="127.0.0.1")
    try:
        yield server
    finally:
        server.stop()


def callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    """An Events API body as Slack posts it."""
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": "T0FAKETEAM",
        "api_app_id": "A0FAKEAPP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev0{next(_ids):08d}",
        "event_time": 1765000000,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": "T0FAKETEAM",
                "user_id": "U0BRIEFBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMEZBS0VURUFNIn0",
    }


def dm(
    fake: FakeSlack, said: str, *, thread_ts: str | None = None, **changes: Any
) -> dict[str, Any]:
    """The `message.im` event of `text` typed by Alice in her DM with the bot."""
    text = str(changes.get("text", said))
    ts = fake.user_message(ALICE, text, thread_ts=thread_ts)
    event: dict[str, Any] = {
        "user": ALICE,
        "type": "message",
        "ts": ts,
        "client_msg_id": "5f7f8f2e-1b1a-4c1e-9a34-0b4f2f1b2c3d",
        "text": text,
        "team": "T0FAKETEAM",
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "b1",
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                ],
            }
        ],
        "channel": "D" + ALICE,
        "event_ts": ts,
        "channel_type": "im",
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = ALICE
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def send(server: ServerHandle, body: dict[str, Any], **headers: str) -> HttpAnswer:
    raw = json.dumps(body).encode()
    return post(server, raw, {"Content-Type": "application/json", **sign(raw), **headers})


def replies(fake: FakeSlack, count: int) -> list[Any]:
    assert wait_until(lambda: len(fake.messages("D" + ALICE)) >= count), fake.messages()
    return fake.messages("D" + ALICE)


def first_text(message: Any) -> str:
    """The text of a posted message's first block (the answer's first section)."""
    return str(message.blocks[0]["text"]["text"])


# --------------------------------------------------------------------------- a DM


def test_a_dm_is_acked_at_once_and_answered_in_the_dm(
    http_questions: ServerHandle, fake_slack: FakeSlack, asked: Asked
) -> None:
    answer = send(http_questions, callback(dm(fake_slack, "What's new on the entity list today?")))

    assert answer.status == 200
    assert answer.seconds < 3.0
    [reply] = replies(fake_slack, 1)
    assert reply.thread_ts is None
    first = first_text(reply)
    assert first.startswith("*1 item* [1]: items from ")
    assert "(today), Asia/Tokyo time on the topic entity-list." in first
    assert ENTITY_TITLE in json.dumps(reply.blocks)
    assert reply.params.get("unfurl_links") is False
    assert "link_names" not in reply.params and "parse" not in reply.params
    # Alice's zone came from users.info.
    assert asked.requests == [
        QuestionRequest(
            ALICE, "D" + ALICE, "What's new on the entity list today?", "dm", None, "Asia/Tokyo"
        )
    ]


def test_a_dm_in_a_thread_is_answered_in_that_thread(
    http_questions: ServerHandle, fake_slack: FakeSlack
) -> None:
    parent = fake_slack.user_message(ALICE, "hello")
    send(http_questions, callback(dm(fake_slack, "chips today", thread_ts=parent)))
    [reply] = replies(fake_slack, 1)
    assert reply.thread_ts == parent
    assert "“chips”" in first_text(reply)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param(
            {"subtype": "message_changed", "message": {"text": "edited", "user": ALICE}}, id="edit"
        ),
        pytest.param({"subtype": "channel_join"}, id="join"),
        pytest.param({"user": "U0BRIEFBOT", "bot_id": "B0BRIEFBOT"}, id="the-bots-own"),
        pytest.param({"bot_id": "B0OTHERBOT", "subtype": "bot_message"}, id="another-bot"),
        pytest.param({"channel_type": "channel", "channel": "C0NEWS"}, id="not-a-dm"),
        pytest.param({"text": "   "}, id="blank"),
    ],
)
def test_edits_joins_bots_and_channels_get_no_answer(
    http_questions: ServerHandle, fake_slack: FakeSlack, asked: Asked, changes: dict[str, Any]
) -> None:
    ignored = send(http_questions, callback(dm(fake_slack, "entity list today", **changes)))
    assert ignored.status == 200
    # A real question after it is answered; the ignored one never was.
    send(http_questions, callback(dm(fake_slack, "ipef this week")))
    [reply] = replies(fake_slack, 1)
    assert "on the topic" not in first_text(reply)
    assert [r.text for r in asked.requests] == ["ipef this week"]


def test_a_redelivered_event_is_answered_once(
    http_questions: ServerHandle, fake_slack: FakeSlack, asked: Asked
) -> None:
    body = callback(dm(fake_slack, "entity list today"), event_id="Ev0REPEATED")
    assert send(http_questions, body).status == 200
    assert send(http_questions, body, **{"X-Slack-Retry-Num": "1"}).status == 200
    send(http_questions, callback(dm(fake_slack, "chips today")))
    replies(fake_slack, 2)
    assert [r.text for r in asked.requests] == ["entity list today", "chips today"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"type": "event_callback", "event": [1]}, id="event-list"),
        pytest.param(
            callback({"type": "message", "text": ["x"], "channel_type": "im"}), id="text-list"
        ),
        pytest.param(callback({"type": "message", "channel": {"id": "D1"}}), id="channel-object"),
        pytest.param(
            callback({"type": "assistant_thread_started", "assistant_thread": [1]}),
            id="assistant-thread-list",
        ),
        pytest.param(
            callback(
                {
                    "type": "assistant_thread_started",
                    "assistant_thread": {"channel_id": "D1", "context": {"channel_id": 5}},
                }
            ),
            id="context-int",
        ),
        pytest.param(callback({"type": "reaction_added"}), id="unanswered-event"),
        pytest.param({**callback({"type": "message"}), "event_id": 7}, id="event-id-int"),
    ],
)
def test_a_malformed_event_is_refused_before_bolt_reads_it(
    http_questions: ServerHandle, caplog: pytest.LogCaptureFixture, body: dict[str, Any]
) -> None:
    answer = send(http_questions, body)
    assert answer.status in (400, 404)
    assert "Traceback" not in caplog.text


# --------------------------------------------------------------------------- the assistant panel


def test_the_assistant_panel_suggests_works_answers_and_titles(
    http_questions: ServerHandle, fake_slack: FakeSlack
) -> None:
    channel, thread = fake_slack.open_assistant_thread(ALICE)
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": ALICE,
            "context": {"channel_id": "C0NEWS", "team_id": "T0FAKETEAM", "enterprise_id": ""},
            "channel_id": channel,
            "thread_ts": thread,
        },
        "event_ts": thread,
    }
    assert send(http_questions, callback(started)).status == 200
    assert wait_until(lambda: "prompts" in fake_slack.assistant_thread(channel, thread))
    assert fake_slack.assistant_thread(channel, thread)["prompts"] == [
        dict(p) for p in SUGGESTED_PROMPTS
    ]

    question = "Anything on the Entity List since Monday?"
    answer = send(http_questions, callback(dm(fake_slack, question, thread_ts=thread)))
    assert answer.status == 200 and answer.seconds < 3.0
    assert wait_until(lambda: "title" in fake_slack.assistant_thread(channel, thread))
    state = fake_slack.assistant_thread(channel, thread)
    assert state["statuses"] == [STATUS]
    assert state["title"] == question
    [reply] = [m for m in fake_slack.messages(channel) if m.thread_ts == thread]
    assert "(since monday), Asia/Tokyo time on the topic entity-list." in first_text(reply)
    assert ENTITY_TITLE in json.dumps(reply.blocks)


def test_a_context_change_is_acknowledged_and_ignored(
    http_questions: ServerHandle, fake_slack: FakeSlack
) -> None:
    channel, thread = fake_slack.open_assistant_thread(ALICE)
    changed = {
        "type": "assistant_thread_context_changed",
        "assistant_thread": {
            "user_id": ALICE,
            "context": {"channel_id": "C0OTHER", "team_id": "T0FAKETEAM", "enterprise_id": ""},
            "channel_id": channel,
            "thread_ts": thread,
        },
        "event_ts": thread,
    }
    assert send(http_questions, callback(changed)).status == 200
    assert fake_slack.calls("chat.update") == []
    assert fake_slack.calls("conversations.replies") == []


def test_when_slack_refuses_the_answer_the_status_is_cleared(
    http_questions: ServerHandle, fake_slack: FakeSlack
) -> None:
    channel, thread = fake_slack.open_assistant_thread(ALICE)
    fake_slack.fail_next("chat.postMessage", error="msg_too_long")
    send(http_questions, callback(dm(fake_slack, "chips this week", thread_ts=thread)))
    assert wait_until(
        lambda: len(fake_slack.assistant_thread(channel, thread).get("statuses", [])) == 2
    )
    assert fake_slack.assistant_thread(channel, thread)["statuses"] == [STATUS, ""]


# --------------------------------------------------------------------------- Socket Mode


@pytest.fixture
def socket_questions(
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    recorder: Recorder,
    asked: Asked,
) -> Iterator[SocketModeHandle]:
    fake_slack.socket_mode_url = socket_server.url
    fake_slack.add_user(ALICE, name="alice", tz="Europe/Paris")
    app = build_app(secrets, recorder, questions=asked)
    handle = serve_socket_mode(app, fake_slack.app_token)
    try:
        yield handle
    finally:
        handle.stop()


def test_a_dm_over_socket_mode_is_acknowledged_and_answered(
    socket_questions: SocketModeHandle, socket_server: SocketModeServer, fake_slack: FakeSlack
) -> None:
    connection = socket_server.wait_for_connections(1)
    body = callback(dm(fake_slack, "What did BIS publish this week?"))
    envelope = {
        "envelope_id": "ev-dm-1",
        "payload": body,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
    }
    socket_server.send(connection, envelope)

    assert socket_server.wait_for(connection, lambda m: m.get("envelope_id") == "ev-dm-1")
    [reply] = replies(fake_slack, 1)
    assert "(this week), Europe/Paris time on “BIS”." in first_text(reply)


# --------------------------------------------------------------------------- the language model


@pytest.mark.parametrize("slow", [False, True], ids=["answers", "too-slow"])
def test_a_dm_answer_carries_the_models_summary_or_goes_out_without_it(
    http_questions: ServerHandle,
    fake_slack: FakeSlack,
    runtime: Runtime,
    chat_server: ChatServer,
    slow: bool,
) -> None:
    settings = LanguageModel(chat_server.url, "test-model", LLM_KEY, timeout_seconds=1.0)
    runtime.summarizer = Summarizer(settings)
    chat_server.reply = "BIS added entities to the Entity List [1]."
    chat_server.delay = 5.0 if slow else 0.0
    answer = send(http_questions, callback(dm(fake_slack, "What's new on the entity list today?")))
    assert answer.status == 200 and answer.seconds < 3.0  # acked before the model is asked
    [reply] = replies(fake_slack, 1)
    shown = json.dumps(reply.blocks)
    assert first_text(reply).startswith("*1 item* [1]: items from ")
    assert ENTITY_TITLE in shown
    summarized = "BIS added entities to the Entity List [1]." in shown
    assert summarized is not slow
    assert ("*Summary* (written by a language model" in shown) is not slow
    assert LLM_KEY not in shown
