"""`/brief` in HTTP mode at 100,000 items: acknowledgements in bursts, in a crowd, under load.

The real Slack app (`bot.slack.app.build_app` + `bot.slack.http.serve_http`,
Bolt behind the bounded waitress server) runs on a Runtime whose store holds
100,000 items (the store benchmark's data dir, copied) with its search index
built, as after start-up. Bolt's start-up `auth.test` is answered by the
fake Slack Web API (tests/support/fakeslack.py). Slack's side, the clients
posting signed slash commands and the `response_url` the replies go to, runs
in a process of its own (bench/ack_clients.py), so it takes no CPU or GIL
from the bot. The loads, in order:

- burst (target: p99 under 100 ms): twenty commands sent at the same
  moment, ten times, each burst once every reply of the last has arrived;
- sustained (overload, no target): twenty clients each sending the next
  command as soon as the last was acknowledged;
- crowd (target: p99 under 500 ms, none lost, no apology): 200 commands at once;
- busy burst (target: p99 under 100 ms): bursts of twenty while the same
  process polls a 1,000-feed farm and sends digests (bench/ack_work.py):
  the farm's first poll (the store grows from 100,000 items by some 70,000),
  then a steady cycle (at least 10 bursts, at most 150);
- busy crowd (reported): 200 at once while that work goes on.

Measured per command: the time from sending to the HTTP 200 (the ack Slack
waits at most 3 s for), and to the first reply's arrival at the response_url;
counted per load: commands not acknowledged with 200, replies not in within 300 s
(counted as lost: the response_url then closes), replies that were the bot's apology.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.ack_clients import (
    CLIENTS,
    COMMAND_TEXTS,
    SIGNING_SECRET,
    ClientPlan,
    ResponseSink,
    run_clients,
    sign,
)
from bench.ack_work import BackgroundWork
from bench.common import load_average, make_config, rss_mb
from bench.corpus import ROOT, feed_ids
from bench.feedfarm import FarmProcess
from bench.results import ScenarioResult, Target, percentile
from bench.store_bench import FEEDS, ensure_store
from bot.app.runtime import Runtime
from bot.config.model import Config, SlackSecrets

__all__ = ["COMMAND_TEXTS", "SIGNING_SECRET", "ResponseSink", "run", "sign"]


@dataclass(frozen=True)
class _Size:
    items: int
    rounds: int  # bursts (and sustained commands per client)
    crowd: int  # commands sent at once
    farm_feeds: int
    min_cycles: int  # polls the busy bursts last for, at least
    most_bursts: int  # busy bursts at most
    smallest_files: int | None = None


FULL = _Size(100_000, 10, 200, 1000, 2, 150)
QUICK = _Size(1_000, 2, 40, 10, 2, 20, smallest_files=4)

BURST_TARGET = Target("<=", 100.0, "under 100 ms")
CROWD_TARGET = Target("<=", 500.0, "under 500 ms")


@dataclass(frozen=True)
class _Bot:
    """The opened Runtime, and what opening it cost."""

    runtime: Runtime
    open_seconds: float
    index_seconds: float
    rss_before: float  # MB, before opening
    rss_ready: float  # MB, once open with the search index built


@dataclass
class _Measured:
    """Each load's rows (name, status, ack s, first reply s or None), apologies, posts."""

    loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    work: dict[str, Any] = field(default_factory=dict)
    items_before: int = 0
    items_after: int = 0


def run(quick: bool, *, workdir: Path | None = None) -> ScenarioResult:
    size = QUICK if quick else FULL
    result = ScenarioResult(
        "ack", f"/brief ack in HTTP mode: bursts of {CLIENTS}, {size.items:,} items", quick
    )
    try:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.support.fakeslack import FakeSlack
    except ImportError as exc:
        result.status, result.reason = "not run", f"the fake Slack is not importable: {exc}"
        return result
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="ack-bench-"))
    try:
        farm = FarmProcess(size.farm_feeds, latency=0.020, smallest=size.smallest_files)
        with farm, _open_bot(size.items, base, farm.urls) as bot, FakeSlack() as fake:
            secrets = SlackSecrets(
                bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.url
            )
            measured = _measure(bot.runtime, secrets, farm, size)
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            shutil.rmtree(base / "ack-data", ignore_errors=True)
    _report(result, bot, measured, size)
    return result


def _measure(runtime: Runtime, secrets: SlackSecrets, farm: FarmProcess, size: _Size) -> _Measured:
    """Every load in turn against the app serving `runtime`, the busy ones under work."""
    from bot.app.commands.dispatch import handle_command
    from bot.slack.app import build_app
    from bot.slack.client import make_web_client
    from bot.slack.deliver import Deliverer
    from bot.slack.http import serve_http

    server = serve_http(
        build_app(secrets, functools.partial(handle_command, runtime)), port=0, host="127.0.0.1"
    )
    measured = _Measured(items_before=runtime.store.items.count())
    try:
        port = server.port
        loads = measured.loads
        loads["burst"] = _clients(port, ClientPlan("burst", "burst", size.rounds, warm=True))
        loads["sustained"] = _clients(port, ClientPlan("sustained", "sustained", size.rounds))
        loads["crowd"] = _clients(port, ClientPlan("crowd", "crowd", size.crowd))
        poster = Deliverer(make_web_client(secrets), interval=0.0)
        farm_ids = [f.id for f in runtime.config.feeds if f.id.startswith("farm-")]
        work = BackgroundWork(runtime, farm, poster, farm_ids, min_cycles=size.min_cycles)
        with work.running():
            plan = ClientPlan("burst", "busy burst", size.rounds, most=size.most_bursts)
            loads["busy burst"] = _clients(port, plan, until=work.done)
            loads["busy crowd"] = _clients(port, ClientPlan("crowd", "busy crowd", size.crowd))
        measured.work = _work_summary(work)
        measured.items_after = runtime.store.items.count()
    finally:
        server.stop()
    return measured


def _clients(port: int, plan: ClientPlan, *, until: Any = None) -> dict[str, Any]:
    """Run `plan` from a process of its own (bench/ack_clients.py); its results.

    `until` (a threading.Event of this process): the bursts go on until it is set.
    """
    began = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    flag = context.Event() if until is not None else None
    process = context.Process(target=run_clients, args=(port, plan, flag, results), daemon=True)
    process.start()
    try:
        if until is not None and flag is not None:
            while not until.wait(0.5):
                if not process.is_alive():
                    break
            flag.set()
        outcome: dict[str, Any] = results.get(timeout=1800)
    finally:
        process.join(timeout=30)
    took = time.perf_counter() - began
    print(f"ack: {plan.label}: {len(outcome['rows'])} commands in {took:.1f} s", file=sys.stderr)
    return outcome


def _work_summary(work: BackgroundWork) -> dict[str, Any]:
    return {
        "poll_cycles_s": [round(c, 2) for c in work.cycles],
        "new_items": work.new_items,
        "failed_feeds": len(work.failed_feeds),
        "digests_s": [round(d, 2) for d in work.digests],
        "digest_statuses": work.digest_statuses,
        "errors": work.errors,
    }


@contextlib.contextmanager
def _open_bot(size: int, base: Path, farm_urls: list[str]) -> Iterator[_Bot]:
    """A Runtime on a copy of the store benchmark's data dir (plus the farm's feeds)."""
    source, _ = ensure_store(size, base)
    data_dir = base / "ack-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(source, data_dir)
    config = _config(data_dir, farm_urls)
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


def _config(data_dir: Path, farm_urls: list[str]) -> Config:
    stored = [(feed, f"https://feeds.example.org/{feed}.xml") for feed in feed_ids(FEEDS)]
    farm = [(f"farm-{n:04d}", url) for n, url in enumerate(farm_urls)]
    return make_config(stored + farm, data_dir)


_LABELS = {
    "burst": ("burst of 20", BURST_TARGET),
    "sustained": ("sustained, 20 in flight", None),
    "crowd": ("200 at once", CROWD_TARGET),
    "busy burst": ("burst of 20, during poll + digest", BURST_TARGET),
    "busy crowd": ("200 at once, during poll + digest", None),
}


def _report(result: ScenarioResult, bot: _Bot, measured: _Measured, size: _Size) -> None:
    counts: dict[str, Any] = {}
    for mode, outcome in measured.loads.items():
        label, target = _LABELS[mode]
        if "at once" in label and size.crowd != 200:
            label = label.replace("200", str(size.crowd))
        rows = outcome["rows"]
        acks = [ack * 1000 for _, _, ack, _ in rows]
        replies = [reply * 1000 for _, _, _, reply in rows if reply is not None]
        result.add(f"{label}: ack p50", percentile(acks, 0.50), "ms")
        result.add(f"{label}: ack p99", percentile(acks, 0.99), "ms", target=target)
        if replies:
            result.add(f"{label}: first reply p50", percentile(replies, 0.50), "ms")
            result.add(f"{label}: first reply p99", percentile(replies, 0.99), "ms")
        non_200 = sum(1 for _, status, _, _ in rows if status != 200)
        lost = len(rows) - len(replies)
        apologies = len(outcome["apologies"])
        if "at once" in label:
            result.add(
                f"{label}: acked / lost / apologies",
                float(len(rows) - non_200),
                "",
                note=f"{len(rows) - non_200} of {len(rows)} acked with 200, "
                f"{lost} replies not in within 300 s, {apologies} apologies",
            )
        if non_200 or lost or apologies:
            result.notes.append(
                f"WARNING: {mode}: {non_200} not acked with 200, {lost} replies not in "
                f"within 300 s, {apologies} apologies"
            )
        counts[mode] = {
            "requests": len(rows),
            "non_200": non_200,
            "replies": len(replies),
            "lost": lost,
            "apologies": apologies,
        }
    _report_bot(result, bot, measured, size)
    result.details = {
        "items": size.items,
        **counts,
        "work": measured.work,
        "load_average": load_average(),
    }


def _report_bot(result: ScenarioResult, bot: _Bot, measured: _Measured, size: _Size) -> None:
    result.add(f"Runtime.open at {size.items:,} items", bot.open_seconds, "s")
    result.add(f"search index build at {size.items:,} items", bot.index_seconds, "s")
    result.add(
        f"bot process memory at {size.items:,} items",
        bot.rss_ready,
        "MB",
        note=f"store + story index + search index; {bot.rss_before:.0f} MB before opening",
    )
    work = measured.work
    cycles = work.get("poll_cycles_s", [])
    result.notes.append(
        f"burst: {size.rounds} times, {CLIENTS} commands sent at once, the next burst after "
        f"every reply; sustained: {CLIENTS} clients each sending {size.rounds} commands, the "
        "next as soon as the last was acked (overload: replies pile up); clients and "
        "response_url in a process of their own"
    )
    result.notes.append(
        f"busy: {len(cycles)} polls of {size.farm_feeds} farm feeds ({cycles} s; new items "
        f"{work.get('new_items')}; {work.get('failed_feeds')} feeds failed) and "
        f"{len(work.get('digests_s', []))} digests ({work.get('digests_s')} s, "
        f"{work.get('digest_statuses')}) ran in the bot's process; store "
        f"{measured.items_before:,} items before, {measured.items_after:,} after"
    )
    if work.get("errors"):
        result.notes.append(f"WARNING: busy work failed: {work['errors']}")
