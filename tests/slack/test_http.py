"""HTTP mode under attack: lengths, bodies, connections and payloads Slack never sends.

The real server (`serve_http(build_app(...))`) on loopback, driven with raw
sockets where http.client cannot send the request (a negative
Content-Length, a body that never ends, connections that never send a byte).
Each test asserts what the sender sees (the status code, whether the command
was answered) and what the operator sees (one log line, no traceback), and,
where that is the point, that the process's memory and thread count stay
bounded.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
import tracemalloc
from contextlib import ExitStack
from urllib.parse import quote, urlencode

import pytest

from bot.slack.http import MAX_BODY_BYTES, ServerHandle
from bot.slack.httpserver import MAX_CONNECTIONS
from tests.support.responseurl import ResponseUrlServer
from tests.support.slackhttp import (
    Recorder,
    command_form,
    post,
    post_command,
    raw_exchange,
    sign,
    status_of,
)

MIB = 1024 * 1024


def request_head(port: int, *headers: str) -> bytes:
    """A POST to /slack/events with `headers` (each "Name: value"), as bytes on the wire."""
    lines = [
        "POST /slack/events HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/x-www-form-urlencoded",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def one_log_line(caplog: pytest.LogCaptureFixture) -> str:
    """The one line logged at INFO or above (asserts there is exactly one, without a trace).

    waitress's "Task queue depth is N" (its threads were busy with an earlier
    connection, on a loaded machine) is about the server's load, not this request.
    """
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and r.name != "waitress.queue"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None
    assert "Traceback" not in caplog.text
    return lines[0].getMessage()


# --------------------------------------------------------------------------- lengths and bodies


@pytest.mark.parametrize(
    ("length", "status"),
    [
        pytest.param("-1", 400, id="negative"),
        pytest.param("+10", 400, id="plus-sign"),
        pytest.param("1_0", 400, id="underscore"),  # int() reads "1_0" as 10
        pytest.param("0x10", 400, id="hex"),
        pytest.param("\xb9\xb2", 400, id="superscript-digits"),
        pytest.param("10, 10", 400, id="two-values"),
        pytest.param(str(MAX_BODY_BYTES + 1), 413, id="over-the-cap"),
        pytest.param("9" * 30, 413, id="huge"),
        pytest.param("9" * 5000, 400, id="too-many-digits-for-int"),
    ],
)
def test_a_length_that_is_not_a_size_is_refused_before_the_body_is_read(
    http_app: ServerHandle, recorder: Recorder, length: str, status: int
) -> None:
    # Only the first bytes of the body are sent and the connection stays open:
    # the answer must come from the headers alone.
    head = request_head(http_app.port, f"Content-Length: {length}")
    answer = raw_exchange(http_app.port, head, [b"text=aaaa"])

    assert status_of(answer) == status
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("framing", "piece", "status"),
    [
        pytest.param("Content-Length: -1", b"a" * MIB, 400, id="negative-length"),
        pytest.param(
            "Transfer-Encoding: chunked",
            b"100000\r\n" + b"a" * MIB + b"\r\n",  # chunks of 1 MiB
            413,
            id="chunked-past-the-cap",
        ),
    ],
)
def test_an_unsigned_endless_body_is_refused_without_filling_memory(
    http_app: ServerHandle, framing: str, piece: bytes, status: int
) -> None:
    # Read "to the end", this body does not end: 64 MiB, then the sender stops.
    head = request_head(http_app.port, framing)
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        answer = raw_exchange(http_app.port, head, itertools.repeat(piece, 64), finish=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # What the process allocated while it answered: a few buffers, never the body.
    assert peak - baseline < 4 * MIB, f"{(peak - baseline) / MIB:.1f} MiB allocated"
    assert status_of(answer) == status


def test_a_post_without_a_length_is_refused_with_411(
    http_app: ServerHandle, recorder: Recorder
) -> None:
    head = request_head(http_app.port, *(f"{k}: {v}" for k, v in sign(b"").items()))
    answer = raw_exchange(http_app.port, head)

    assert status_of(answer) == 411
    assert recorder.requests == []


def test_a_signed_command_sent_in_chunks_is_answered(
    http_app: ServerHandle, responses: ResponseUrlServer, recorder: Recorder
) -> None:
    # Slack sends a Content-Length, but a proxy in front of the bot may forward
    # the body chunked; the signature covers the de-chunked body.
    body = urlencode(command_form("help", responses.url("chunked"))).encode()
    half = len(body) // 2
    chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:half], body[half:])] + [b"0\r\n\r\n"]
    headers = [f"{k}: {v}" for k, v in sign(body).items()]
    head = request_head(http_app.port, "Transfer-Encoding: chunked", *headers)
    answer = raw_exchange(http_app.port, head, chunks)

    assert status_of(answer) == 200
    [reply] = responses.wait("chunked")
    assert "subscribe" in reply.everything.lower()
    assert [r.text for r in recorder.requests] == ["help"]


# --------------------------------------------------------------------------- connections


@pytest.mark.parametrize(
    "count",
    [
        pytest.param(400, id="400"),
        pytest.param(MAX_CONNECTIONS + 100, id="over-the-connection-limit"),
    ],
)
def test_connections_that_send_nothing_hold_no_thread_and_a_command_is_still_answered(
    http_app: ServerHandle, responses: ResponseUrlServer, count: int
) -> None:
    threads_before = threading.active_count()
    with ExitStack() as stack:
        crowd = []
        for n in range(count):
            conn = stack.enter_context(socket.create_connection(("127.0.0.1", http_app.port)))
            if n % 2:  # half of them start a request and never finish it
                conn.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Le")
            crowd.append(conn)
        answer = post_command(http_app, command_form("help", responses.url("crowded")))
        [reply] = responses.wait("crowded")
        threads_during = threading.active_count()
        dropped = sum(1 for conn in crowd if closed_by_server(conn))

    assert answer.status == 200
    assert answer.seconds < 3.0, "Slack gives up on an ack after 3 s"
    assert "subscribe" in reply.everything.lower()
    # The command's own work may start the app's two workers; nothing grows per connection.
    assert threads_during - threads_before <= 8, f"{threads_during - threads_before} new threads"
    # Over the limit, the idle ones made room; under it, none was dropped.
    assert dropped >= count - MAX_CONNECTIONS if count > MAX_CONNECTIONS else dropped == 0


def closed_by_server(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1) == b""
    except BlockingIOError:
        return False  # still open, nothing to read
    except ConnectionResetError:
        return True


# --------------------------------------------------------------------------- forged or malformed


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("\xb9\xb2\xb3", id="superscript-digits"),  # "¹²³".isdigit() is True
        pytest.param("1" * 5000, id="5000-digits"),  # int() refuses over 4300 digits
        pytest.param("17e8", id="exponent"),
        pytest.param("", id="empty"),
    ],
)
def test_a_timestamp_that_is_not_a_number_gets_401_and_one_log_line(
    http_app: ServerHandle,
    responses: ResponseUrlServer,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    timestamp: str,
) -> None:
    caplog.set_level(logging.INFO)
    body = urlencode(command_form("help", responses.url("forged"))).encode()
    headers = {**sign(body), "X-Slack-Request-Timestamp": timestamp}
    answer = post(http_app, body, headers)

    assert answer.status == 401
    assert "signature" in one_log_line(caplog)
    assert recorder.requests == []


def _form(**fields: object) -> tuple[str, bytes]:
    return "application/x-www-form-urlencoded", urlencode(fields).encode()


def _payload(value: object) -> tuple[str, bytes]:
    return "application/x-www-form-urlencoded", b"payload=" + quote(json.dumps(value)).encode()


def _json(value: object) -> tuple[str, bytes]:
    return "application/json", json.dumps(value).encode()


@pytest.mark.parametrize(
    ("content", "status"),
    [
        pytest.param(_json([1]), 400, id="json-array"),
        pytest.param(_json("brief"), 400, id="json-string"),
        pytest.param(("application/json", b'{"type": '), 400, id="json-cut-short"),
        pytest.param(_payload([1]), 400, id="payload-array"),
        pytest.param(("application/x-www-form-urlencoded", b"payload=%7B"), 400, id="payload-bad"),
        pytest.param(_payload({"type": "block_actions"}), 404, id="block-actions-no-actions"),
        pytest.param(_payload({"type": "block_actions", "actions": []}), 404, id="no-action"),
        pytest.param(_payload({"type": "block_actions", "actions": [1]}), 404, id="action-int"),
        pytest.param(_json({"type": "event_callback", "event": [1]}), 404, id="event-array"),
        pytest.param(
            _json({"type": "event_callback", "event": {}, "authorizations": [1]}),
            404,
            id="authorizations-of-ints",
        ),
        pytest.param(_json({"command": "/brief", "text": 1}), 404, id="command-as-json"),
        pytest.param(
            _json({"type": "url_verification", "challenge": ["x"]}), 404, id="challenge-not-string"
        ),
        pytest.param(_form(command="/other", text="x"), 404, id="another-command"),
        pytest.param(_form(text="help"), 404, id="no-command"),
    ],
)
def test_a_signed_body_briefbot_cannot_use_gets_4xx_and_one_log_line(
    http_app: ServerHandle,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    content: tuple[str, bytes],
    status: int,
) -> None:
    caplog.set_level(logging.INFO)
    content_type, body = content
    answer = post(http_app, body, {**sign(body), "Content-Type": content_type})

    assert answer.status == status
    one_log_line(caplog)
    time.sleep(0.2)  # a wrongly started lazy listener would show itself within this
    assert recorder.requests == []


def test_slacks_url_checks_are_still_answered(http_app: ServerHandle) -> None:
    # Slack checks the certificate of a slash command's URL with this form...
    body = b"ssl_check=1&token=gIkuvaNzQIHg97ATvDxqgjtO"
    assert post(http_app, body, sign(body)).status == 200
    # ...and an Events API request URL with this challenge.
    content_type, body = _json(
        {"token": "gIkuvaNzQIHg97ATvDxqgjtO", "challenge": "3eZbrw1a", "type": "url_verification"}
    )
    answer = post(http_app, body, {**sign(body), "Content-Type": content_type})

    assert answer.status == 200
    assert json.loads(answer.body) == {"challenge": "3eZbrw1a"}
