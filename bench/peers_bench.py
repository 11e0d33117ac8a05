"""Whole processes on one farm: `briefbot poll` against newsboat, rss2email and the floor.

People do not meet briefbot in-process: they run `briefbot poll` (from cron,
or by hand), which pays for the interpreter, imports, opening the store,
printing and exiting. This scenario measures that, beside the programs such
people run instead (bench/peers.py), on the same loopback farm (20 ms
latency, 10% of the feeds changed since the earlier poll), in three cases:

- 100 feeds and 300 feeds on many hosts (one loopback address per feed, up
  to 100): every contender at 16 requests at once (rss2email fetches one
  feed after the other: it has no concurrency setting);
- 100 feeds on one host, politeness limits on: at most 4 requests at once to
  the host for briefbot (its default per-host limit), newsboat (4 reload
  threads) and the floor.

The floor is poll_bench's: the same conditional GETs in this process (the
bot's HTTP/1.1 layer alone, no guard, no redirects, no caps: the cheapest
client here; the same requests at once), bodies kept, plus bare
`feedparser.parse` of each changed body. Nothing is stored; no interpreter
starts.

Each repeat runs every contender once on a fresh copy of its earlier poll's
state, the order rotating; the report gives medians and the ratios to the
floor. Each contender must have done the same work: the farm's status
codes during its run (200 for the changed feeds, 304 for the others) and the
new items its state holds afterwards are compared with what the farm added.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.feedfarm import FarmProcess
from bench.peers import BriefbotPeer, NewsboatPeer, Peer, Rss2emailPeer
from bench.poll_bench import fetch_floor, parse_floor
from bench.results import ScenarioResult, Target, median
from bot.models import Settings

__all__ = ["CASES", "QUICK_CASES", "PeerCase", "run"]


@dataclass(frozen=True)
class PeerCase:
    label: str
    feeds: int
    hosts: int
    concurrency: int = 16
    per_host: int = 4
    changed_share: float = 0.10
    latency: float = 0.020
    smallest_files: int | None = None


CASES = (
    PeerCase("100 feeds, many hosts", feeds=100, hosts=100),
    PeerCase("300 feeds, many hosts", feeds=300, hosts=100),
    PeerCase("100 feeds, one host (4 at once)", feeds=100, hosts=1),
)
QUICK_CASES = (PeerCase("10 feeds", feeds=10, hosts=4, changed_share=0.2, smallest_files=4),)
REPEATS, QUICK_REPEATS = 5, 1


def _peers(case: PeerCase, urls: list[str]) -> list[Peer]:
    one_host = case.hosts == 1
    return [
        BriefbotPeer(urls, per_host=case.per_host),
        NewsboatPeer(urls, threads=case.per_host if one_host else case.concurrency),
        Rss2emailPeer(urls),
    ]


def run(quick: bool, *, repeats: int | None = None, workdir: Path | None = None) -> ScenarioResult:
    cases = QUICK_CASES if quick else CASES
    repeats = repeats or (QUICK_REPEATS if quick else REPEATS)
    result = ScenarioResult(
        "peers", "poll as whole processes: briefbot, newsboat, rss2email, the floor", quick
    )
    scratch = Path(tempfile.mkdtemp(prefix="peers-", dir=workdir))
    try:
        for case in cases:
            details = _run_case(case, repeats, scratch / f"{case.feeds}-{case.hosts}")
            _report(result, case, details)
            result.details[case.label] = details
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _run_case(case: PeerCase, repeats: int, scratch: Path) -> dict[str, Any]:
    settings = Settings(concurrency=case.concurrency, per_host_concurrency=case.per_host)
    with FarmProcess(
        case.feeds, latency=case.latency, hosts=case.hosts, smallest=case.smallest_files
    ) as farm:
        peers = _peers(case, farm.urls)
        skipped = {p.name: why for p in peers if (why := p.missing()) is not None}
        peers = [p for p in peers if p.name not in skipped]
        seeded: dict[str, int] = {}
        for peer in peers:
            peer.seed(scratch / peer.name)
            seeded[peer.name] = peer.stored(scratch / peer.name)
        floor_etags = fetch_floor(farm.urls, {}, settings).etags
        added = farm.advance(case.changed_share, seed=1)
        runs: dict[str, list[dict[str, Any]]] = {p.name: [] for p in peers}
        runs["floor"] = []
        names = [*runs]
        for repeat in range(repeats):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                farm.clear_stats()
                if name == "floor":
                    runs[name].append(_floor(farm.urls, floor_etags, settings))
                else:
                    peer = next(p for p in peers if p.name == name)
                    runs[name].append(_one(peer, scratch, seeded[name]))
                runs[name][-1]["by_status"] = farm.stats()["by_status"]
    return {
        "case": case.__dict__,
        "skipped": skipped,
        "changed_feeds": len(added),
        "new_items": sum(added.values()),
        "items_after_first_poll": seeded,
        "runs": runs,
    }


def _one(peer: Peer, scratch: Path, seeded: int) -> dict[str, Any]:
    state = scratch / f"{peer.name}-run"
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(scratch / peer.name, state)
    try:
        outcome = peer.run(state)
        stored = peer.stored(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return {
        "seconds": outcome.seconds,
        "returncode": outcome.returncode,
        "new_items": stored - seeded,
        "stderr": outcome.stderr_tail if outcome.returncode else "",
    }


def _floor(urls: list[str], etags: dict[int, str], settings: Settings) -> dict[str, Any]:
    fetched = fetch_floor(urls, etags, settings)
    parse_seconds = parse_floor(fetched.bodies)
    return {
        "seconds": fetched.seconds + parse_seconds,
        "fetch_seconds": fetched.seconds,
        "parse_seconds": parse_seconds,
        "new_items": None,
    }


def _report(result: ScenarioResult, case: PeerCase, details: dict[str, Any]) -> None:
    runs: dict[str, list[dict[str, Any]]] = details["runs"]
    floor = median([r["seconds"] for r in runs["floor"]])
    times = {name: median([r["seconds"] for r in rs]) for name, rs in runs.items() if rs}
    for name, seconds in times.items():
        note = "" if name == "floor" else f"{seconds / floor:.2f}x the floor"
        result.add(f"{case.label}: {name}", seconds, "s", note=note)
    if "briefbot" in times:
        bot = times["briefbot"]
        result.add(
            f"{case.label}: briefbot / floor", bot / floor, "x", target=Target("<=", 1.5, "≤ 1.5x")
        )
        for peer in ("newsboat", "rss2email"):
            if peer in times:
                result.add(
                    f"{case.label}: briefbot / {peer}",
                    bot / times[peer],
                    "x",
                    target=Target("<=", 1.0, "faster"),
                )
    for name, why in details["skipped"].items():
        result.notes.append(f"{case.label}: {name} skipped: {why}")
    result.notes.extend(_work_checks(case, details))


def _work_checks(case: PeerCase, details: dict[str, Any]) -> list[str]:
    """Whether each contender did the same work: the farm's answers and the items stored."""
    changed, expected = details["changed_feeds"], details["new_items"]
    want_status = {"200": changed, "304": case.feeds - changed}
    notes = [
        f"{case.label}: {changed} feeds changed with {expected} new items "
        f"(the farm should answer 200 x{changed}, 304 x{case.feeds - changed})"
    ]
    for name, runs in details["runs"].items():
        statuses = [r["by_status"] for r in runs]
        bad_status = [s for s in statuses if s != want_status]
        new = sorted({r["new_items"] for r in runs if r["new_items"] is not None})
        failed = [r for r in runs if r.get("returncode")]
        if bad_status:
            notes.append(f"WARNING: {case.label}: {name} got other answers: {bad_status[0]}")
        if name != "floor" and new != [expected]:
            notes.append(f"WARNING: {case.label}: {name} stored {new} new items, not {expected}")
        if failed:
            notes.append(f"WARNING: {case.label}: {name} failed: {failed[0]['stderr'][-300:]}")
    return notes
