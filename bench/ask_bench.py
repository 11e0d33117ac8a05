"""Questions in plain words at 100,000 items: the DM's acknowledgement, and the answer's time.

The real Slack app (`build_app` with the question handler, served by
`serve_http`) runs on a Runtime whose store holds 100,000 items (the store
benchmark's data dir, copied; items first seen over 180 days), its clock set
just after the newest item, its search index built (as a while after
start-up; until then a question waits up to 2 s for the index, then
matches item by item). Slack's side is the fake Web API
(tests/support/fakeslack.py): Bolt's `auth.test`, users.info for the
asker's zone, and the chat.postMessage the answer arrives by.

Measured:
- the answering stage alone (`bot.app.questions.answer_messages`) for each
  question of QUESTIONS, three times: the period read, the window's items
  read from the store and counted, the answer rendered;
- signed `message.im` events posted to `/slack/events`, one question at a
  time and then ten at once: the time to the HTTP 200 (the acknowledgement
  Slack waits 3 s for) and to the answer's chat.postMessage at the fake
  Slack (one DM user per question, so each answer is told apart).
"""

from __future__ import annotations

import functools
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.ack_bench import SIGNING_SECRET, sign
from bench.common import make_config
from bench.corpus import ROOT, feed_ids
from bench.results import ScenarioResult, Target, percentile
from bench.store_bench import FEEDS, ensure_store
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets

__all__ = ["QUESTIONS", "run"]

FULL, QUICK = 100_000, 1_000
BURST = 10
QUESTIONS = (
    "What did BIS publish this week?",
    "Entity List additions this month by country",
    "What's new on IPEF?",
    "anything on chips since Monday?",
    "export controls in the last 30 days",
    "sanctions today",
    "what happened yesterday",
    "rare earths last month",
)


@dataclass(frozen=True)
class _Sent:
    user: str
    started: float
    status: int
    ack: float


def run(quick: bool, *, workdir: Path | None = None) -> ScenarioResult:
    size = QUICK if quick else FULL
    result = ScenarioResult("ask", f"questions in a DM, HTTP mode, {size:,} items", quick)
    try:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from bot.app.commands.dispatch import handle_command
        from bot.app.questions import answer_messages, handle_question
        from bot.slack.app import build_app
        from bot.slack.http import serve_http
        from tests.support.fakeslack import FakeSlack
    except ImportError as exc:
        result.status, result.reason = "not run", f"the Slack app is not importable: {exc}"
        return result
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ask-bench-"))
    source, _ = ensure_store(size, base)
    data_dir = base / "ask-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(source, data_dir)
    try:
        config = make_config(
            [(f, f"https://feeds.example.org/{f}.xml") for f in feed_ids(FEEDS)],
            data_dir,
            private=False,
        )
        newest = _newest_seen(config)
        with Runtime.open(config, clock=lambda: newest) as runtime, FakeSlack() as fake:
            # As after start-up: questions wait for the index only while it is built.
            if not runtime.search_index.wait_ready(600):
                raise RuntimeError("the search index was not built within 10 minutes")
            stage = _stage_times(runtime, answer_messages)
            secrets = SlackSecrets(
                bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.url
            )
            app = build_app(
                secrets,
                functools.partial(handle_command, runtime),
                questions=functools.partial(handle_question, runtime),
            )
            server = serve_http(app, port=0, host="127.0.0.1")
            try:
                one, burst = _dm_load(server.port, fake)
            finally:
                server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    _report(result, stage, one, burst, size)
    return result


def _newest_seen(config: Any) -> Any:
    """The store's newest first-seen time plus a minute: "now" for the questions."""
    with Runtime.open(config, read_only=True) as runtime:
        [item] = list(runtime.store.items.newest_first(1))
        assert item.first_seen is not None
        return item.first_seen + timedelta(minutes=1)


def _stage_times(runtime: Runtime, answer: Any) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for question in QUESTIONS:
        for _ in range(3):
            started = time.perf_counter()
            answer(runtime, question, user_id="U0BENCH")
            times.setdefault(question, []).append(time.perf_counter() - started)
    return times


def _event(user: str, text: str) -> bytes:
    ts = f"{time.time():.6f}"
    event = {
        "user": user,
        "type": "message",
        "ts": ts,
        "text": text,
        "team": "T0BENCH",
        "channel": "D" + user,
        "event_ts": ts,
        "channel_type": "im",
    }
    body = {
        "token": "bench-verification-token",
        "team_id": "T0BENCH",
        "api_app_id": "A0BENCH",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{user}",
        "event_time": int(time.time()),
    }
    return json.dumps(body).encode()


def _post(port: int, user: str, text: str) -> _Sent:
    body = _event(user, text)
    headers = {"Content-Type": "application/json", **sign(body)}
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/slack/events", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return _Sent(user, started, response.status, time.monotonic() - started)


def _answered(fake: Any, sent: list[_Sent], timeout: float = 600) -> dict[str, float]:
    """Seconds from each question's post to its answer's chat.postMessage at the fake."""
    deadline = time.monotonic() + timeout
    wanted = {"D" + s.user: s for s in sent}
    found: dict[str, float] = {}
    while time.monotonic() < deadline and len(found) < len(wanted):
        for call in fake.calls("chat.postMessage"):
            channel = str(call.params.get("channel"))
            if channel in wanted and channel not in found:
                found[channel] = call.time - wanted[channel].started
        time.sleep(0.01)
    return found


def _dm_load(port: int, fake: Any) -> tuple[list[tuple[_Sent, float | None]], list[Any]]:
    one: list[tuple[_Sent, float | None]] = []
    _post(port, "U0WARM0", QUESTIONS[0])  # imports, templates
    _answered(fake, [_Sent("U0WARM0", 0, 200, 0)])
    for n, question in enumerate(QUESTIONS):
        sent = _post(port, f"U0ONE{n:03d}", question)
        one.append((sent, _answered(fake, [sent]).get("D" + sent.user)))
    burst: list[_Sent] = []
    lock = threading.Lock()

    def ask(n: int) -> None:
        sent = _post(port, f"U0BURST{n:03d}", QUESTIONS[n % len(QUESTIONS)])
        with lock:
            burst.append(sent)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replies = _answered(fake, burst)
    return one, [(s, replies.get("D" + s.user)) for s in burst]


def _report(
    result: ScenarioResult,
    stage: dict[str, list[float]],
    one: list[tuple[_Sent, float | None]],
    burst: list[Any],
    size: int,
) -> None:
    under_3s = Target("<=", 3000.0, "acknowledged within 3 s")
    for label, runs in (("one at a time", one), (f"{BURST} at once", burst)):
        acks = [s.ack * 1000 for s, _ in runs]
        answers = [a * 1000 for _, a in runs if a is not None]
        result.add(f"DM {label}: ack max", max(acks), "ms", target=under_3s)
        result.add(f"DM {label}: ack p50", percentile(acks, 0.5), "ms")
        result.add(f"DM {label}: answer p50", percentile(answers, 0.5), "ms")
        result.add(f"DM {label}: answer max", max(answers) if answers else None, "ms")
        bad = [s for s, _ in runs if s.status != 200]
        if bad or len(answers) < len(runs):
            result.notes.append(
                f"WARNING: {label}: {len(bad)} not acked with 200, "
                f"{len(runs) - len(answers)} answers missing"
            )
    for question, seconds in stage.items():
        result.add(f"answer stage: {question}", min(seconds) * 1000, "ms")
    result.details = {
        "items": size,
        "stage_ms": {q: [round(s * 1000, 1) for s in v] for q, v in stage.items()},
    }
