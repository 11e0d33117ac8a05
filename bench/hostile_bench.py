"""`/brief` acknowledgements while two hostile feeds are polled in the same process (issue 12).

The ack scenario's set-up (bench/ack_bench.py: the real Slack app over HTTP,
signed slash commands, the store benchmark's data dir with its search index
built, replies to a loopback response_url), with two feeds on a loopback feed
server (tests/support/feedserver.py) that cost parsing: a summary of `&lt;a`
× 400,000 and an item of 20,000 categories (bench/parse_feeds.py). A poller
thread polls both (force, no 304: every cycle parses them again) while bursts
of 20 commands are sent, each burst once the last one's replies are in:

- idle: no poll running, the baseline;
- pool: `parse_workers` at its default (one worker process per core);
- in-process: `parse_workers: 0`, parsing on the bot's own threads (and GIL).

Measured per mode: acknowledgement and first-reply latency, and the poll
cycles completed meanwhile; then, the bursts over, three cycles alone: their
median length and the bot process's CPU time in each (a worker's CPU is
another process's, so this is what parsing leaves to the Slack handlers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.ack_clients import SIGNING_SECRET, ResponseSink, load, warm_up
from bench.common import load_average, make_config
from bench.corpus import ROOT
from bench.parse_feeds import categories_feed, lt_summary_feed
from bench.results import ScenarioResult, median, percentile
from bench.store_bench import ensure_store
from bot.app.runtime import Runtime
from bot.config.model import SlackSecrets
from bot.ingest.parsepool import resolve_workers

__all__ = ["MODES", "run"]

MODES = ("idle", "pool", "in-process")
FULL = (100_000, 10, 400_000, 20_000)  # items, bursts, `&lt;a` repeats, categories
QUICK = (1_000, 2, 100_000, 5_000)


@dataclass
class _Poller:
    """Polls the runtime's feeds in a loop on a thread of its own, until stopped."""

    runtime: Runtime
    cycles: list[float] = dataclasses.field(default_factory=list)
    statuses: set[str] = dataclasses.field(default_factory=set)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-poller", daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            reports = self.runtime.poll(force=True)
            self.cycles.append(time.perf_counter() - started)
            self.statuses.update(f"{r.feed_id}: {r.status} {r.error or ''}" for r in reports)

    @contextlib.contextmanager
    def running(self) -> Iterator[_Poller]:
        self._thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            self._thread.join()

    def quiet_cycles(self, count: int = 3) -> list[tuple[float, float]]:
        """`count` cycles with nothing else running: (seconds, CPU seconds of this process)."""
        measured = []
        for _ in range(count):
            started, cpu = time.perf_counter(), time.process_time()
            self.runtime.poll(force=True)
            measured.append((time.perf_counter() - started, time.process_time() - cpu))
        return measured


def run(quick: bool, *, workdir: Path | None = None) -> ScenarioResult:
    size, bursts, repeats, categories = QUICK if quick else FULL
    result = ScenarioResult(
        "hostile",
        f"/brief ack while 2 hostile feeds are polled: bursts of 20, {size:,} items",
        quick,
    )
    try:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.support.fakeslack import FakeSlack
        from tests.support.feedserver import FeedServer
    except ImportError as exc:
        result.status, result.reason = "not run", f"the test harness is not importable: {exc}"
        return result
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    source, _ = ensure_store(size, base)
    data_dir = base / "hostile-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(source, data_dir)
    measured: dict[str, dict[str, Any]] = {}
    try:
        with FeedServer() as feeds, FakeSlack() as fake:
            urls = [
                ("hostile-brackets", feeds.add("/brackets.xml", lt_summary_feed(repeats))),
                ("hostile-categories", feeds.add("/categories.xml", categories_feed(categories))),
            ]
            secrets = SlackSecrets(
                bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.url
            )
            for mode in MODES:
                measured[mode] = _measure(mode, urls, data_dir, secrets, bursts)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    _report(result, measured, repeats=repeats, categories=categories, bursts=bursts)
    return result


def _measure(
    mode: str, urls: list[tuple[str, str]], data_dir: Path, secrets: SlackSecrets, bursts: int
) -> dict[str, Any]:
    """One mode: a Runtime with its parse setting, the app, the poller, the bursts."""
    from bot.app.commands.dispatch import handle_command
    from bot.slack.app import build_app
    from bot.slack.http import serve_http

    config = make_config(urls, data_dir)
    workers: int | Literal["auto"] = 0 if mode == "in-process" else "auto"
    config = dataclasses.replace(
        config, settings=dataclasses.replace(config.settings, parse_workers=workers)
    )
    with Runtime.open(config) as runtime:
        if not runtime.search_index.wait_ready(600):
            raise RuntimeError("the search index was not built within 10 minutes")
        server = serve_http(
            build_app(secrets, functools.partial(handle_command, runtime)),
            port=0,
            host="127.0.0.1",
        )
        sink = ResponseSink()
        poller = _Poller(runtime)
        try:
            warm_up(server.port, sink)
            if mode == "idle":
                sent = load(server.port, sink, bursts, mode="burst")
            else:
                runtime.poll(force=True)  # the first cycle stores the items and starts workers
                with poller.running():
                    sent = load(server.port, sink, bursts, mode="burst")
            replied = sink.wait_for({s.name for s in sent}, timeout=300)
            arrivals = dict(sink.arrivals)
            quiet = poller.quiet_cycles() if mode != "idle" else []
        finally:
            sink.stop()
            server.stop()
    acks = [s.ack_seconds * 1000 for s in sent]
    replies = [(arrivals[s.name] - s.started) * 1000 for s in sent if s.name in arrivals]
    return {
        "acks_ms": acks,
        "replies_ms": replies,
        "non_200": sum(1 for s in sent if s.status != 200),
        "replied": replied,
        "cycles": poller.cycles,
        "quiet_cycles": quiet,
        "statuses": sorted(poller.statuses),
    }


def _report(
    result: ScenarioResult,
    measured: dict[str, dict[str, Any]],
    *,
    repeats: int,
    categories: int,
    bursts: int,
) -> None:
    for mode, data in measured.items():
        result.add(f"{mode}: ack p50", percentile(data["acks_ms"], 0.50), "ms")
        result.add(f"{mode}: ack p99", percentile(data["acks_ms"], 0.99), "ms")
        if data["replies_ms"]:
            result.add(f"{mode}: first reply p99", percentile(data["replies_ms"], 0.99), "ms")
        if data["quiet_cycles"]:
            quiet = data["quiet_cycles"]
            result.add(
                f"{mode}: a poll of the 2 hostile feeds, alone",
                median([seconds for seconds, _ in quiet]),
                "s",
                note=f"bot process CPU {median([cpu for _, cpu in quiet]):.2f} s; "
                f"{len(data['cycles'])} cycles ran during the bursts",
            )
        if data["non_200"] or not data["replied"]:
            result.notes.append(
                f"WARNING: {mode}: {data['non_200']} not acked with 200 or replies missing"
            )
        bad = [s for s in data["statuses"] if ": ok" not in s]
        if bad:
            result.notes.append(f"WARNING: {mode}: feeds failed: {'; '.join(bad)}")
    result.notes.append(
        f"hostile feeds: a summary of '&lt;a' x {repeats:,} and an item of {categories:,} "
        f"categories, polled in a loop; {bursts} bursts of 20 signed /brief commands per mode; "
        f"pool = {resolve_workers('auto')} worker processes (parse_workers: auto)"
    )
    result.details = {
        mode: {k: v for k, v in data.items() if k not in ("acks_ms", "replies_ms")}
        | {"requests": len(data["acks_ms"]), "replies": len(data["replies_ms"])}
        for mode, data in measured.items()
    } | {"load_average": load_average()}
