"""Slack's side of the ack scenario: signed `/brief` commands sent, replies received.

`ResponseSink` is a loopback `response_url` that notes when each reply arrived
and what it said; `load` sends commands from 20 client threads (bursts, or
sustained), `crowd` sends many at the same moment. Each command is a form
signed as Slack signs it (v0, HMAC-SHA256 of `v0:{timestamp}:{body}`), by
slack_sdk's `SignatureVerifier`, as the tests' requests are (tests/support/slackhttp.py;
both checked against Slack's documented example in tests/support/test_slackhttp.py).

`run_clients` runs one such load in a process of its own (bench/ack_bench.py
starts it with multiprocessing's spawn): the client threads and the sink
then take no CPU time or GIL from the bot being measured, as Slack's
servers would not. The timings are taken on the client's clock.

Not obvious: a reply counts as lost when it has not arrived `REPLY_WAIT`
seconds after the last command of its load was acknowledged, and as an
apology when any of its messages is the bot's "Sorry, briefbot could not
answer" (bot.slack.app.APOLOGY).
"""

from __future__ import annotations

import http.client
import json
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

__all__ = [
    "CLIENTS",
    "COMMAND_TEXTS",
    "SIGNING_SECRET",
    "ClientPlan",
    "ResponseSink",
    "Sent",
    "crowd",
    "load",
    "run_clients",
    "sign",
    "warm_up",
]

SIGNING_SECRET = "bench-s1gn1ng-s3cr3t-n0t-a-real-0ne"
CLIENTS = 20
# Seconds to wait for the replies of a load once it was sent.
REPLY_WAIT = 300.0
APOLOGY_START = "Sorry, briefbot could not answer"

# What people type after /brief: mostly questions (answered by search), some
# latest / feeds / help. Cycled through by the clients.
COMMAND_TEXTS = (
    "entity list",
    "what's new on IPEF",
    "semiconductor export controls",
    '"rare earth" OR gallium',
    "latest",
    "china -taiwan since:7d",
    "tariff* tag:news",
    "help",
    "sanctions on russia",
    "Japan economic security",
    "feeds",
    "chip OR chips since:30d",
    "latest 5",
    "trade deal",
    "経済安全保障",
    "election",
    "critical minerals china",
    "export* -china",
    "huawei",
    "supply chain",
)


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 request signature headers for `body`, signed by slack_sdk as Slack signs."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # None only for an empty secret
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


class ResponseSink(ThreadingHTTPServer):
    """A loopback response_url: notes when each reply arrived and its text, answers "ok"."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.arrivals: dict[str, float] = {}
        self.texts: dict[str, list[str]] = {}
        self.changed = threading.Condition()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn lookup, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/r/{name}"

    def record(self, path: str, text: str) -> None:
        name = path.removeprefix("/r/")
        with self.changed:
            # The first message of a reply counts: that is when the user sees an answer.
            self.arrivals.setdefault(name, time.perf_counter())
            self.texts.setdefault(name, []).append(text)
            self.changed.notify_all()

    def wait_for(self, names: set[str], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: names <= self.arrivals.keys(), timeout)

    def settle(self, quiet: float = 1.0, most: float = 15.0) -> None:
        """Wait until nothing arrived for `quiet` s (the rest of replies of several messages)."""
        deadline = time.monotonic() + most
        with self.changed:
            while time.monotonic() < deadline and self.changed.wait(quiet):
                pass

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _SinkHandler(BaseHTTPRequestHandler):
    server: ResponseSink
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            text = str(json.loads(body).get("text") or "")
        except (ValueError, AttributeError):
            text = ""
        self.server.record(self.path, text)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@dataclass
class Sent:
    name: str
    started: float
    status: int
    ack_seconds: float


def post_command(port: int, text: str, response_url: str, trigger: str) -> tuple[int, float]:
    """POST one signed `/brief text`; (HTTP status, seconds to the answer), 0 if none came."""
    form = {
        "token": "bench-verification-token",
        "team_id": "T0BENCH",
        "team_domain": "bench",
        "channel_id": "C0BENCH01",
        "channel_name": "policy",
        "user_id": "U0BENCH01",
        "user_name": "analyst",
        "command": "/brief",
        "text": text,
        "api_app_id": "A0BENCH",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger,
    }
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0  # refused, reset or timed out: not acknowledged
    finally:
        connection.close()
    return status, time.perf_counter() - started


def warm_up(port: int, sink: ResponseSink) -> None:
    for n in range(3):  # the first requests pay for imports and template compilation
        name = f"warm-{n}"
        post_command(port, COMMAND_TEXTS[n], sink.url(name), f"warm.{n}")
        sink.wait_for({name}, timeout=60)


def load(
    port: int,
    sink: ResponseSink,
    rounds: int,
    *,
    mode: str,
    until: threading.Event | None = None,
    most: int = 0,
    label: str = "",
) -> list[Sent]:
    """CLIENTS threads sending `rounds` commands each: "burst" (all at once, the next
    burst once every reply is in) or "sustained" (each sends its next once the last
    was acked). With `until`, bursts go on until it is set (`most` at most). `label`
    names the commands and trigger ids: the app drops a trigger id it saw before.
    """
    label = (label or mode).replace(" ", "-")
    sent: list[Sent] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)
    more = threading.Event()  # set by the barrier's pick: another burst follows
    total = max(rounds, most) if until is not None else rounds

    def send(number: int, r: int) -> None:
        name = f"{label}-c{number}-{r}"
        text = COMMAND_TEXTS[(number * 7 + r) % len(COMMAND_TEXTS)]
        began = time.perf_counter()
        status, seconds = post_command(port, text, sink.url(name), f"{number}.{r}.{label}")
        with lock:
            sent.append(Sent(name, began, status, seconds))

    def client(number: int) -> None:
        for r in range(total):
            if mode == "burst" or r == 0:
                start.wait()
            send(number, r)
            if mode != "burst":
                if r + 1 >= rounds:
                    return
                continue
            # One client (the barrier's pick) waits for every reply, then says whether to go on.
            if start.wait() == 0:
                sink.wait_for({f"{label}-c{n}-{r}" for n in range(CLIENTS)}, timeout=120)
                go_on = r + 1 < rounds or (until is not None and not until.is_set())
                if go_on:
                    more.set()
                else:
                    more.clear()
            start.wait()
            if not more.is_set():
                return

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def crowd(port: int, sink: ResponseSink, count: int, *, label: str = "crowd") -> list[Sent]:
    """`count` commands sent at the same moment, one thread each."""
    label = label.replace(" ", "-")
    sent: list[Sent] = []
    lock = threading.Lock()
    start = threading.Barrier(count)

    def send(number: int) -> None:
        name = f"{label}-{number}"
        text = COMMAND_TEXTS[number % len(COMMAND_TEXTS)]
        start.wait()
        began = time.perf_counter()
        status, seconds = post_command(port, text, sink.url(name), f"{number}.{label}")
        with lock:
            sent.append(Sent(name, began, status, seconds))

    threads = [threading.Thread(target=send, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


@dataclass(frozen=True)
class ClientPlan:
    """One load: `kind` "burst", "sustained" or "crowd"; `label` names its commands."""

    kind: str
    label: str
    rounds: int = 1  # bursts / commands per client; for a crowd, the commands sent at once
    most: int = 0  # bursts at most while the bot's `until` event is unset
    warm: bool = False


def run_clients(port: int, plan: ClientPlan, until: Any, results: Any) -> None:
    """One load against the bot on `port` (in a process of its own); puts a dict on `results`.

    `until` is a multiprocessing Event (bursts go on until it is set) or None.
    The dict holds each command's (name, status, ack seconds, first reply
    seconds or None) and the texts of the replies that were apologies.
    """
    sink = ResponseSink()
    try:
        if plan.warm:
            warm_up(port, sink)
        if plan.kind == "crowd":
            sent = crowd(port, sink, plan.rounds, label=plan.label)
        else:
            flag = _relay(until) if until is not None else None
            sent = load(
                port,
                sink,
                plan.rounds,
                mode=plan.kind,
                until=flag,
                most=plan.most,
                label=plan.label,
            )
        sink.wait_for({s.name for s in sent}, timeout=REPLY_WAIT)
        sink.settle()
        with sink.changed:
            arrivals, texts = dict(sink.arrivals), {k: list(v) for k, v in sink.texts.items()}
    finally:
        sink.stop()
    rows = [
        (
            s.name,
            s.status,
            s.ack_seconds,
            arrivals[s.name] - s.started if s.name in arrivals else None,
        )
        for s in sent
    ]
    apologies = {
        name: said
        for name, said in texts.items()
        if any(text.startswith(APOLOGY_START) for text in said)
    }
    results.put(
        {"rows": rows, "apologies": apologies, "posts": {k: len(v) for k, v in texts.items()}}
    )


def _relay(until: Any) -> threading.Event:
    """A threading.Event set when the multiprocessing Event `until` is (polled every 50 ms)."""
    flag = threading.Event()

    def watch() -> None:
        while not until.wait(0.05):
            pass
        flag.set()

    threading.Thread(target=watch, daemon=True).start()
    return flag
