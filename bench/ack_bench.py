"""`/brief` in HTTP mode at 100,000 items: acknowledgement latency under 20 concurrent requests.

The real Slack app (`bot.slack.app.build_app` + `bot.slack.http.serve_http`, Bolt over the
stdlib WSGI server) runs on a Runtime whose store holds 100,000 items (the
store benchmark's data dir, copied) with its search index built, as after
start-up. Bolt's start-up `auth.test` is answered by the fake Slack Web API
(tests/support/fakeslack.py), and the `response_url` the replies go to is a loopback
sink here.

Twenty clients post signed slash commands (Slack's v0 signature, HMAC-SHA256
of `v0:{timestamp}:{body}` with the signing secret), twice:

- burst (the target): the twenty send at the same moment, as twenty people
  asking at once; the next burst starts when every reply has arrived;
- sustained (overload): each client sends its next command as soon as the
  last was acknowledged, so twenty are always in flight while the work of
  the earlier ones (searches, latest, feeds, help) piles up behind them.

The acknowledgements compete with the lazy listeners' work for the CPU and
the GIL. Measured per request: the time from sending to the HTTP 200 (the ack
Slack waits at most 3 s for), and to the first reply's arrival at the
response_url.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import http.client
import shutil
import socketserver
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import load_average, make_config, rss_mb
from bench.corpus import ROOT, feed_ids
from bench.results import ScenarioResult, Target, percentile
from bench.store_bench import FEEDS, ensure_store
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets

__all__ = ["COMMAND_TEXTS", "ResponseSink", "run", "sign"]

SIGNING_SECRET = "bench-s1gn1ng-s3cr3t-n0t-a-real-0ne"
CLIENTS = 20
MODES = ("burst", "sustained")
FULL = (100_000, 10)  # items, requests per client
QUICK = (1_000, 2)

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
    """Slack's v0 request signature headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


class ResponseSink(ThreadingHTTPServer):
    """A loopback response_url: notes when each reply arrived, answers "ok" as Slack does."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.arrivals: dict[str, float] = {}
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

    def record(self, path: str) -> None:
        with self.changed:
            # The first message of a reply counts: that is when the user sees an answer.
            self.arrivals.setdefault(path.removeprefix("/r/"), time.perf_counter())
            self.changed.notify_all()

    def wait_for(self, names: set[str], timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: names <= self.arrivals.keys(), timeout)

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
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.record(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@dataclass
class _Sent:
    name: str
    started: float
    status: int
    ack_seconds: float


def _post_command(port: int, text: str, response_url: str, trigger: str) -> tuple[int, float]:
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
    finally:
        connection.close()
    return response.status, time.perf_counter() - started


@dataclass(frozen=True)
class _Bot:
    """The opened Runtime, and what opening it cost."""

    runtime: Runtime
    open_seconds: float
    index_seconds: float
    rss_before: float  # MB, before opening
    rss_ready: float  # MB, once open with the search index built


@dataclass(frozen=True)
class _Load:
    """The commands each mode sent, whether all their replies came, and when each came."""

    runs: dict[str, list[_Sent]]
    replied: dict[str, bool]
    arrivals: dict[str, float]


def run(quick: bool, *, workdir: Path | None = None) -> ScenarioResult:
    size, rounds = QUICK if quick else FULL
    result = ScenarioResult(
        "ack", f"/brief ack in HTTP mode: {CLIENTS} concurrent, {size:,} items", quick
    )
    try:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from bot.app.commands.dispatch import handle_command
        from bot.slack.app import build_app
        from bot.slack.http import serve_http
        from tests.support.fakeslack import FakeSlack
    except ImportError as exc:
        result.status, result.reason = "not run", f"the Slack app is not importable: {exc}"
        return result
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ack-bench-"))
    try:
        with _open_bot(size, base) as bot, FakeSlack() as fake:
            secrets = SlackSecrets(
                bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.url
            )
            server = serve_http(
                build_app(secrets, functools.partial(handle_command, bot.runtime)),
                port=0,
                host="127.0.0.1",
            )
            try:
                load = _send_commands(server.port, rounds)
            finally:
                server.stop()
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            shutil.rmtree(base / "ack-data", ignore_errors=True)
    _report(result, bot, load, size=size, rounds=rounds)
    return result


@contextlib.contextmanager
def _open_bot(size: int, base: Path) -> Iterator[_Bot]:
    """A Runtime on a copy of the store benchmark's data dir, its search index built."""
    source, _ = ensure_store(size, base)
    data_dir = base / "ack-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(source, data_dir)
    feeds = [(feed, f"https://feeds.example.org/{feed}.xml") for feed in feed_ids(FEEDS)]
    config = make_config(feeds, data_dir, private=False)
    rss_before = rss_mb()
    started = time.perf_counter()
    runtime = Runtime.open(config)
    open_seconds = time.perf_counter() - started
    try:
        started = time.perf_counter()
        if not runtime.search_index.wait_ready(600):
            raise RuntimeError("the search index was not built within 10 minutes")
        index_seconds = time.perf_counter() - started
        yield _Bot(runtime, open_seconds, index_seconds, rss_before, rss_mb())
    finally:
        runtime.close()


def _send_commands(port: int, rounds: int) -> _Load:
    """After a warm-up, each mode's load in turn, every reply awaited before the next."""
    sink = ResponseSink()
    try:
        _warm_up(port, sink)
        runs: dict[str, list[_Sent]] = {}
        replied: dict[str, bool] = {}
        for mode in MODES:
            runs[mode] = _load(port, sink, rounds, mode=mode)
            names = {s.name for s in runs[mode]}
            replied[mode] = sink.wait_for(names, timeout=300)
        return _Load(runs, replied, dict(sink.arrivals))
    finally:
        sink.stop()


def _report(result: ScenarioResult, bot: _Bot, load: _Load, *, size: int, rounds: int) -> None:
    problems: dict[str, Any] = {}
    for mode, sent in load.runs.items():
        label = "burst of 20" if mode == "burst" else "sustained, 20 in flight"
        acks = [s.ack_seconds * 1000 for s in sent]
        replies = [
            (load.arrivals[s.name] - s.started) * 1000 for s in sent if s.name in load.arrivals
        ]
        judged = Target("<=", 300.0, "under 300 ms") if mode == "burst" else None
        result.add(f"{label}: ack p50", percentile(acks, 0.50), "ms")
        result.add(f"{label}: ack p99", percentile(acks, 0.99), "ms", target=judged)
        result.add(f"{label}: first reply p50", percentile(replies, 0.50), "ms")
        result.add(f"{label}: first reply p99", percentile(replies, 0.99), "ms")
        bad = [s for s in sent if s.status != 200]
        if bad:
            result.notes.append(f"WARNING: {mode}: {len(bad)} commands not acked with 200")
        if not load.replied[mode]:
            result.notes.append(f"WARNING: {mode}: {len(sent) - len(replies)} replies missing")
        problems[mode] = {"requests": len(sent), "non_200": len(bad), "replies": len(replies)}
    result.add(f"Runtime.open at {size:,} items", bot.open_seconds, "s")
    result.add(f"search index build at {size:,} items", bot.index_seconds, "s")
    result.add(
        f"bot process memory at {size:,} items",
        bot.rss_ready,
        "MB",
        note=f"store + story index + search index; {bot.rss_before:.0f} MB before opening",
    )
    result.notes.append(
        f"burst: {rounds} times, {CLIENTS} commands sent at once, the next burst after every "
        f"reply (target judged here); sustained: {CLIENTS} clients each sending {rounds} "
        "commands, the next as soon as the last was acked (overload: replies pile up)"
    )
    result.details = {"items": size, **problems, "load_average": load_average()}


def _warm_up(port: int, sink: ResponseSink) -> None:
    for n in range(3):  # the first requests pay for imports and template compilation
        name = f"warm-{n}"
        _post_command(port, COMMAND_TEXTS[n], sink.url(name), f"warm.{n}")
        sink.wait_for({name}, timeout=60)


def _load(port: int, sink: ResponseSink, rounds: int, *, mode: str) -> list[_Sent]:
    """CLIENTS threads sending `rounds` commands each, in "burst" or "sustained" mode.

    burst: all clients send one command at the same moment, then wait until
    every reply of the burst has arrived (20 people asking at once, from idle).
    sustained: each client sends its next command as soon as the last was
    acknowledged, so 20 requests are always in flight while the work of the
    earlier ones piles up (an overload test).
    """
    sent: list[_Sent] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def send(number: int, r: int) -> None:
        name = f"{mode}-c{number}-{r}"
        text = COMMAND_TEXTS[(number * 7 + r) % len(COMMAND_TEXTS)]
        began = time.perf_counter()
        status, seconds = _post_command(port, text, sink.url(name), f"{number}.{r}.{mode}")
        with lock:
            sent.append(_Sent(name, began, status, seconds))

    def client(number: int) -> None:
        for r in range(rounds):
            if mode == "burst" or r == 0:
                start.wait()
            send(number, r)
            # In a burst, one client (the barrier's pick) waits for every reply.
            if mode == "burst" and start.wait() == 0:
                sink.wait_for({f"burst-c{n}-{r}" for n in range(CLIENTS)}, timeout=120)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent
