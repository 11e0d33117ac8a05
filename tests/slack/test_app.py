"""The Slack app end to end: signed HTTP requests and Socket Mode, on loopback only.

Everything is real: a Runtime on a TinyDB in tmp_path fed from a loopback feed,
the fake Slack Web API (tests/support/fakeslack.py) answering the real slack_sdk
clients, Bolt serving over the stdlib WSGI server, a local WebSocket server
(tests/support/wsserver.py) playing Slack's Socket Mode side, and a loopback server
standing in for the `response_url` that `respond()` posts replies to.
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.models import CommandReply, CommandRequest, SlackMessage
from bot.slack.app import (
    APOLOGY,
    MAX_RESPONSES,
    CommandHandler,
    SeenRequests,
    SlackStartupError,
    build_app,
)
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.http import ServerHandle, serve_http
from bot.slack.socketmode import SocketModeHandle, serve_socket_mode
from bot.slack.start import start_slack
from tests.support.fakeslack import DEFAULT_APP_TOKEN, FakeSlack
from tests.support.responseurl import ResponseUrlServer
from tests.support.secretscan import SIGNING_SECRET, WRONG_APP_TOKEN, WRONG_BOT_TOKEN
from tests.support.slackhttp import (
    HttpAnswer,
    Recorder,
    answer_with,
    command_form,
    post,
    post_command,
    sign,
)
from tests.support.wsserver import SocketModeServer, slash_command_envelope, wait_until

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_secret_in_logs(caplog: pytest.LogCaptureFixture, fake_slack: FakeSlack) -> Iterator[None]:
    """Log everything at DEBUG (slack_sdk then prints request parameters); no secret may show."""
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text + "".join(str(r.msg) for r in caplog.records)
    for secret in (fake_slack.token, fake_slack.app_token, SIGNING_SECRET):
        assert secret not in text, "a Slack secret reached the log"


# --------------------------------------------------------------------------- HTTP mode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("help", ["subscribe", "feeds"], id="help-lists-sub-commands"),
        pytest.param("entity list", ["YMTC"], id="question-answered-by-search"),
    ],
)
def test_signed_command_is_acked_at_once_and_answered_through_response_url(
    http_app: ServerHandle, responses: ResponseUrlServer, text: str, expected: list[str]
) -> None:
    answer = post_command(http_app, command_form(text, responses.url("c1")))

    assert answer.status == 200
    assert answer.seconds < 3.0
    [reply] = responses.wait("c1")
    assert reply.payload["response_type"] == "ephemeral"
    for word in expected:
        assert word.lower() in reply.everything.lower()
    # Never ask Slack to turn text into mentions or links.
    assert "link_names" not in reply.payload and "parse" not in reply.payload


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a & b", id="ampersand"),
        pytest.param("x=1", id="equals"),
        pytest.param("text=foo&command=/evil", id="looks-like-form-fields"),
        pytest.param("payload rules for IPEF", id="word-payload"),  # Bolt alone drops this one
        pytest.param('payload={"type":"block_actions"}', id="payload-field-lookalike"),
        pytest.param("経済安全保障 — “chips”", id="unicode"),
        pytest.param("<#C123|general> <@U0BOB> <!channel>", id="slack-escapes"),
        pytest.param("  spaced  out  ", id="whitespace"),
        pytest.param("", id="empty"),
    ],
)
def test_command_text_reaches_the_handler_verbatim(
    http_app: ServerHandle, responses: ResponseUrlServer, recorder: Recorder, text: str
) -> None:
    form = command_form(text, responses.url("verbatim"), channel_name="payload-team")
    answer = post_command(http_app, form)

    assert answer.status == 200
    responses.wait("verbatim")
    assert recorder.requests == [
        CommandRequest(user_id="U0ALICE", channel_id="C0NEWS", text=text, user_name="alice")
    ]


def _bad_signature(body: bytes) -> dict[str, str]:
    headers = sign(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    return headers


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(_bad_signature, id="bad-signature"),
        pytest.param(lambda b: sign(b, secret="not-the-signing-secret"), id="other-secret"),
        pytest.param(lambda b: sign(b, timestamp=int(time.time()) - 6 * 60), id="stale-6-min"),
        pytest.param(lambda b: sign(b, timestamp=int(time.time()) + 6 * 60), id="future-6-min"),
        pytest.param(lambda b: sign(b + b"&extra=1"), id="body-changed-after-signing"),
        pytest.param(lambda b: {}, id="no-headers"),
        pytest.param(lambda b: {"X-Slack-Signature": sign(b)["X-Slack-Signature"]}, id="no-ts"),
        pytest.param(lambda b: {"X-Slack-Request-Timestamp": str(int(time.time()))}, id="no-sig"),
        pytest.param(
            lambda b: {**sign(b), "X-Slack-Signature": sign(b)["X-Slack-Signature"][3:]},
            id="no-v0-prefix",
        ),
    ],
)
def test_unverified_request_is_refused_with_401_and_never_handled(
    http_app: ServerHandle,
    responses: ResponseUrlServer,
    recorder: Recorder,
    make_headers: Callable[[bytes], dict[str, str]],
) -> None:
    body = urlencode(command_form("help", responses.url("forged"))).encode()
    answer = post(http_app, body, make_headers(body))

    assert answer.status == 401
    time.sleep(0.3)  # give a wrongly started lazy listener time to show itself
    assert recorder.requests == []
    assert responses.replies("forged") == []


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        pytest.param("GET", "/healthz", 200, b"ok\n", id="health-check"),
        pytest.param("POST", "/slack/other", 404, None, id="unknown-path"),
        pytest.param("GET", "/", 404, None, id="root"),
        pytest.param("GET", "/slack/events", 404, None, id="get-on-events"),
    ],
)
def test_paths_other_than_events(
    http_app: ServerHandle, method: str, path: str, status: int, body: bytes | None
) -> None:
    payload = b"" if method == "GET" else b"command=%2Fbrief"
    answer = post(http_app, payload, sign(payload), path=path, method=method)

    assert answer.status == status
    if body is not None:
        assert answer.body == body


def test_oversized_body_is_refused_before_it_is_read(http_app: ServerHandle) -> None:
    # Announce a body over 1 MiB but send only its first bytes: the answer must come
    # from the Content-Length alone (a server that read the body would wait forever).
    # Sending the whole megabyte would race the server's close (EPIPE on the client).
    declared = 1024 * 1024 + 1
    head = (
        "POST /slack/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{http_app.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", http_app.port), timeout=10) as conn:
        conn.sendall(head + b"text=aaaa")
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk

    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.split(b" ", 2)[1] == b"413", status_line
    assert b"too large" in answer.lower()  # the server's own words (waitress)


def test_bolt_internal_headers_from_outside_are_ignored(
    http_app: ServerHandle, responses: ResponseUrlServer, recorder: Recorder
) -> None:
    # Bolt uses these headers between its own threads; a caller must not set them.
    form = command_form("help", responses.url("internal"))
    answer = post_command(
        http_app,
        form,
        **{"X-Slack-Bolt-Lazy-Only": "1", "X-Slack-Bolt-Lazy-Function-Name": "answer"},
    )

    assert answer.status == 200
    assert len(responses.wait("internal")) == 1
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("first_attempt", "retries", "expected_handled"),
    [
        pytest.param(True, ["1"], 1, id="retry-after-first-is-dropped"),
        pytest.param(True, ["1", "2"], 1, id="two-retries-dropped"),
        pytest.param(False, ["1"], 1, id="retry-of-a-lost-first-attempt-is-handled"),
    ],
)
def test_slack_retries_are_handled_once(
    http_app: ServerHandle,
    responses: ResponseUrlServer,
    recorder: Recorder,
    first_attempt: bool,
    retries: list[str],
    expected_handled: int,
) -> None:
    form = command_form("help", responses.url("retried"))
    if first_attempt:
        assert post_command(http_app, form).status == 200
        responses.wait("retried")
    for number in retries:
        # Slack re-signs each attempt; only the header tells it is a retry.
        answer = post_command(
            http_app, form, **{"X-Slack-Retry-Num": number, "X-Slack-Retry-Reason": "http_timeout"}
        )
        assert answer.status == 200

    responses.wait("retried")
    time.sleep(0.5)  # a second, wrong answer would arrive within this
    assert len(responses.replies("retried")) == expected_handled
    assert len(recorder.requests) == expected_handled


class Gate:
    """Wraps the real command handler and holds every request until `open()`: slow work.

    (Searches no longer wait for a poll, which holds no lock they need, so the
    slow work is held here instead.) `entered` counts the requests waiting.
    """

    def __init__(self, inner: CommandHandler) -> None:
        self.inner = inner
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def __call__(self, request: CommandRequest) -> CommandReply:
        self.entered.release()
        assert self.release.wait(30), "the test never let the slow work go"
        return self.inner(request)

    def open(self) -> None:
        self.release.set()


@pytest.fixture
def gate(runtime: Runtime) -> Iterator[Gate]:
    gate = Gate(answer_with(runtime))
    yield gate
    gate.open()  # never leave a worker thread stuck


@pytest.fixture
def slow_app(runtime: Runtime, secrets: SlackSecrets, gate: Gate) -> Iterator[ServerHandle]:
    server = serve_http(build_app(secrets, gate), port=0, host="127.0.0.1")
    try:
        yield server
    finally:
        gate.open()
        server.stop()


def test_ack_returns_before_slow_work(
    slow_app: ServerHandle, responses: ResponseUrlServer, gate: Gate
) -> None:
    # The work (a search) is held until the test lets it go; the ack is not.
    answer = post_command(slow_app, command_form("entity list", responses.url("slow")))
    assert answer.status == 200
    assert answer.seconds < 1.5
    assert gate.entered.acquire(timeout=10), "the work never started"
    assert responses.replies("slow") == [], "the answer could not be ready yet"
    gate.open()
    [reply] = responses.wait("slow")
    assert "YMTC" in reply.everything


def test_many_commands_at_once_are_all_acked_within_3_seconds(
    slow_app: ServerHandle, responses: ResponseUrlServer, gate: Gate
) -> None:
    answers: list[HttpAnswer] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        answer = post_command(slow_app, command_form("entity list", responses.url("burst")))
        with lock:
            answers.append(answer)

    # More commands than worker threads, all stuck in slow work: acks must not
    # queue behind the work.
    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert [a.status for a in answers] == [200] * 12
    assert max(a.seconds for a in answers) < 3.0
    assert responses.replies("burst") == [], "no answer while the work is held"
    gate.open()
    assert len(responses.wait("burst", 12, timeout=20)) == 12


def test_a_search_is_answered_while_a_poll_commits(
    http_app: ServerHandle, responses: ResponseUrlServer, runtime: Runtime
) -> None:
    # A poll's transaction stays open (as while it writes a large batch): it
    # holds the store's writer, which a search does not need.
    inside, done = threading.Event(), threading.Event()

    def long_commit() -> None:
        with runtime.store.transaction():
            inside.set()
            done.wait(30)

    writer = threading.Thread(target=long_commit, daemon=True)
    writer.start()
    try:
        assert inside.wait(10), "the transaction never started"
        answer = post_command(http_app, command_form("entity list", responses.url("during")))
        assert answer.status == 200
        [reply] = responses.wait("during", timeout=10)
        assert "YMTC" in reply.everything
        assert writer.is_alive(), "the transaction ended before the answer came"
    finally:
        done.set()
        writer.join(10)


def test_a_failing_handler_gets_an_apology_not_a_trace(
    runtime: Runtime, secrets: SlackSecrets, responses: ResponseUrlServer
) -> None:
    def broken(request: CommandRequest) -> CommandReply:
        raise RuntimeError("index exploded at /srv/briefbot/bot/find/search.py:42")

    server = serve_http(build_app(secrets, broken), port=0, host="127.0.0.1")
    try:
        answer = post_command(server, command_form("entity list", responses.url("oops")))
        [reply] = responses.wait("oops")
    finally:
        server.stop()

    assert answer.status == 200
    assert reply.payload["text"] == APOLOGY
    assert "exploded" not in reply.everything and "Traceback" not in reply.everything


@pytest.mark.parametrize(
    ("count", "in_channel", "expected_texts", "expected_type"),
    [
        pytest.param(2, False, ["part 1", "part 2"], "ephemeral", id="two-ephemeral"),
        pytest.param(1, True, ["part 1"], "in_channel", id="posted-to-channel"),
        pytest.param(
            7,
            False,
            ["part 1", "part 2", "part 3", "part 4", "…and 3 more messages not shown"],
            "ephemeral",
            id="capped-at-5-uses-of-response_url",
        ),
    ],
)
def test_reply_messages_go_out_in_order_with_the_right_visibility(
    runtime: Runtime,
    secrets: SlackSecrets,
    responses: ResponseUrlServer,
    count: int,
    in_channel: bool,
    expected_texts: list[str],
    expected_type: str,
) -> None:
    def several(request: CommandRequest) -> CommandReply:
        blocks = ({"type": "section", "text": {"type": "mrkdwn", "text": "see <!channel>"}},)
        messages = [SlackMessage(f"part {n}", blocks) for n in range(1, count + 1)]
        return CommandReply(messages=messages, in_channel=in_channel)

    server = serve_http(build_app(secrets, several), port=0, host="127.0.0.1")
    try:
        post_command(server, command_form("digest post", responses.url("many")))
        replies = responses.wait("many", len(expected_texts))
        time.sleep(0.3)
        replies = responses.replies("many")
    finally:
        server.stop()

    assert len(replies) <= MAX_RESPONSES
    assert [r.payload["text"] for r in replies][:-1] == expected_texts[:-1]
    assert replies[-1].payload["text"].startswith(expected_texts[-1])
    assert {r.payload["response_type"] for r in replies} == {expected_type}
    assert all(r.payload["unfurl_links"] is False for r in replies)


# --------------------------------------------------------------------------- Socket Mode


def test_socket_mode_acks_envelopes_answers_and_reconnects_on_disconnect(
    runtime: Runtime,
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    responses: ResponseUrlServer,
    recorder: Recorder,
) -> None:
    fake_slack.socket_mode_url = socket_server.url
    app = build_app(secrets, recorder)
    handle = serve_socket_mode(app, fake_slack.app_token)
    try:
        first = socket_server.wait_for_connections(1)
        assert first.path == "/link/?ticket=fake-1"
        socket_server.send(
            first,
            slash_command_envelope(
                "env-1", text="entity list", response_url=responses.url("s1"), trigger_id="t-1"
            ),
        )
        ack = socket_server.wait_for(first, lambda m: m.get("envelope_id") == "env-1")
        assert ack == {"envelope_id": "env-1"}
        [reply] = responses.wait("s1")
        assert "YMTC" in reply.everything

        # Slack asks for a refresh: the client fetches a new URL and connects again.
        fake_slack.socket_mode_url = socket_server.url
        socket_server.disconnect(first)
        second = socket_server.wait_for_connections(2)
        assert second.path == "/link/?ticket=fake-2"
        socket_server.close(first)  # as Slack does a few seconds after `disconnect`
        opened = fake_slack.calls("apps.connections.open")
        assert len(opened) == 2
        assert {c.token for c in opened} == {fake_slack.app_token}

        socket_server.send(
            second,
            slash_command_envelope(
                "env-2", text="help", response_url=responses.url("s2"), trigger_id="t-2"
            ),
        )
        ack = socket_server.wait_for(second, lambda m: m.get("envelope_id") == "env-2")
        assert ack == {"envelope_id": "env-2"}
        [reply] = responses.wait("s2")
        assert "subscribe" in reply.everything.lower()
        assert [r.text for r in recorder.requests] == ["entity list", "help"]
    finally:
        handle.stop()


def acks(envelope_id: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate: the message acknowledges `envelope_id`."""

    def check(message: dict[str, Any]) -> bool:
        return bool(message.get("envelope_id") == envelope_id)

    return check


def test_socket_mode_redelivery_is_acked_and_handled_once(
    runtime: Runtime,
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    responses: ResponseUrlServer,
    recorder: Recorder,
) -> None:
    fake_slack.socket_mode_url = socket_server.url
    handle = serve_socket_mode(build_app(secrets, recorder), fake_slack.app_token)
    try:
        connection = socket_server.wait_for_connections(1)
        for envelope_id, attempt in (("env-a", 0), ("env-b", 1)):
            envelope = slash_command_envelope(
                envelope_id,
                text="help",
                response_url=responses.url("again"),
                trigger_id="t-same",
                retry_attempt=attempt,
            )
            socket_server.send(connection, envelope)
            socket_server.wait_for(connection, acks(envelope_id))
        responses.wait("again")
        time.sleep(0.5)
    finally:
        handle.stop()

    assert len(responses.replies("again")) == 1
    assert len(recorder.requests) == 1


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    ("setup", "token", "expected"),
    [
        pytest.param(
            None,
            WRONG_BOT_TOKEN,
            "Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN",
            id="wrong-token",
        ),
        pytest.param(
            "token_revoked",
            None,
            "Slack refused the bot token (token_revoked): check SLACK_BOT_TOKEN",
            id="revoked",
        ),
        pytest.param("fatal_error", None, "Slack at http://127.0.0.1:", id="slack-trouble"),
        pytest.param(
            "down", None, "cannot reach Slack at http://127.0.0.1:", id="slack-unreachable"
        ),
    ],
)
def test_a_bad_bot_token_stops_start_up_with_a_clear_message(
    runtime: Runtime, fake_slack: FakeSlack, setup: str | None, token: str | None, expected: str
) -> None:
    bot_token = token or fake_slack.token
    if setup == "down":
        fake_slack.down("refuse")
    elif setup is not None:
        fake_slack.fail_next("auth.test", error=setup)
    secrets = SlackSecrets(
        bot_token=bot_token, signing_secret=SIGNING_SECRET, api_url=fake_slack.url
    )

    with pytest.raises(SlackStartupError) as excinfo:
        build_app(secrets, answer_with(runtime))

    message = str(excinfo.value)
    assert message.startswith(expected)
    if setup == "fatal_error":
        assert message.endswith("check with fatal_error; try again later or check SLACK_API_URL")
    assert bot_token not in message and SIGNING_SECRET not in message
    if setup != "down":
        assert [c.method for c in fake_slack.calls()] == ["auth.test"]


@pytest.mark.parametrize(
    ("app_token", "code"),
    [
        pytest.param(WRONG_APP_TOKEN, "invalid_auth", id="wrong"),
        pytest.param(None, "not_allowed_token_type", id="bot-token-instead"),
    ],
)
def test_a_bad_app_token_stops_socket_mode_start_up(
    runtime: Runtime,
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    socket_server: SocketModeServer,
    app_token: str | None,
    code: str,
) -> None:
    fake_slack.socket_mode_url = socket_server.url
    token = app_token or fake_slack.token
    app = build_app(secrets, answer_with(runtime))

    with pytest.raises(SlackStartupError) as excinfo:
        serve_socket_mode(app, token)

    assert (
        str(excinfo.value) == f"Slack refused the app-level token ({code}): check SLACK_APP_TOKEN"
    )
    assert token not in str(excinfo.value)
    assert socket_server.connections == []


def test_start_slack_picks_socket_mode_when_an_app_token_is_set(
    runtime: Runtime, fake_slack: FakeSlack, socket_server: SocketModeServer
) -> None:
    fake_slack.socket_mode_url = socket_server.url
    secrets = SlackSecrets(
        bot_token=fake_slack.token, app_token=DEFAULT_APP_TOKEN, api_url=fake_slack.url
    )
    handle = start_slack(secrets, answer_with(runtime), port=0)
    try:
        assert isinstance(handle, SocketModeHandle)
        socket_server.wait_for_connections(1)
        assert wait_until(handle.is_connected, timeout=5)
    finally:
        handle.stop()


def test_start_slack_serves_http_when_there_is_no_app_token(
    runtime: Runtime, secrets: SlackSecrets
) -> None:
    handle = start_slack(secrets, answer_with(runtime), port=0, host="127.0.0.1")
    try:
        assert isinstance(handle, ServerHandle)
        answer = post(handle, b"", {}, path="/healthz", method="GET")
        assert (answer.status, answer.body) == (200, b"ok\n")
    finally:
        handle.stop()


def test_http_mode_without_a_signing_secret_is_refused(
    runtime: Runtime, fake_slack: FakeSlack
) -> None:
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url)

    with pytest.raises(SlackStartupError, match="HTTP mode needs SLACK_SIGNING_SECRET"):
        start_slack(secrets, answer_with(runtime), port=0, host="127.0.0.1")
    # Refused before anything talked to Slack.
    assert fake_slack.calls() == []


def test_a_taken_port_is_a_clear_start_up_error(runtime: Runtime, secrets: SlackSecrets) -> None:
    first = serve_http(build_app(secrets, answer_with(runtime)), port=0, host="127.0.0.1")
    try:
        with pytest.raises(SlackStartupError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            serve_http(build_app(secrets, answer_with(runtime)), port=first.port, host="127.0.0.1")
    finally:
        first.stop()


# --------------------------------------------------------------------------- the retry cache


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([("a", 0)], [True], id="first-sight"),
        pytest.param([("a", 0), ("a", 10)], [True, False], id="repeat-within-ttl"),
        pytest.param([("a", 0), ("a", 61)], [True, True], id="repeat-after-ttl"),
        pytest.param([("a", 0), ("b", 1), ("a", 2)], [True, True, False], id="others-between"),
        pytest.param(
            [("a", 0), ("b", 1), ("c", 2), ("a", 3)], [True, True, True, True], id="evicted-by-size"
        ),
    ],
)
def test_seen_requests_remembers_ids_for_a_while(
    steps: list[tuple[str, float]], expected: list[bool]
) -> None:
    now = [0.0]
    seen = SeenRequests(ttl=60, max_size=2, clock=lambda: now[0])
    results = []
    for key, at in steps:
        now[0] = at
        results.append(seen.first_sight(key))
    assert results == expected


@pytest.mark.parametrize(
    "typed",
    [
        # should_escape on (the manifest): Slack sends a picked channel as a link.
        pytest.param("<#C0ALERTS01|alerts>", id="escaped-as-slack-sends-it"),
        # should_escape off (an older install): the name as typed.
        pytest.param("#alerts", id="unescaped-as-slack-sends-it"),
    ],
)
def test_subscribe_a_channel_from_the_exact_payload_slack_sends(
    runtime: Runtime,
    secrets: SlackSecrets,
    fake_slack: FakeSlack,
    responses: ResponseUrlServer,
    typed: str,
) -> None:
    fake_slack.add_channel("C0ALERTS01", name="alerts")
    poster = Deliverer(make_web_client(secrets))
    handler = functools.partial(handle_command, runtime, poster=poster)
    server = serve_http(build_app(secrets, handler), port=0, host="127.0.0.1")
    try:
        form = command_form(f"subscribe {typed} ipef", responses.url("sub"), user_id="U0123456789")
        answer = post_command(server, form)
        [reply] = responses.wait("sub")
    finally:
        server.stop()

    assert answer.status == 200
    [sub] = runtime.store.subscriptions.list()
    assert sub.owner == "C0ALERTS01"
    assert f"Subscribed to query ipef (id {sub.id}): alerts in " in reply.everything
