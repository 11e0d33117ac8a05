"""The benchmark harness works: a quick run end to end, the feed farm, the naive bot, the report.

No timing is asserted anywhere: these tests check that every scenario runs and
that the contenders did the same, correct work (the same new items found, the
same 304s answered), which is what makes the timings comparable.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tinydb import TinyDB

from bench.corpus import source_files
from bench.feedfarm import FarmFeeds, FeedFarm
from bench.naive import poll_cycle, seed_database
from bench.report import END_MARKER, START_MARKER
from bench.results import Metric, Target, percentile
from bench.worker import SCENARIOS
from bot.ingest.parse import parse_feed
from tests.support import paths

ROOT = paths.ROOT
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def run_bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class QuickRun:
    completed: subprocess.CompletedProcess[str]
    json_path: Path
    results: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """`python -m bench --quick --json ...`, run once for the tests that read its output."""
    json_path = tmp_path_factory.mktemp("bench") / "results.json"
    completed = run_bench("--quick", "--json", str(json_path))
    results: dict[str, dict[str, Any]] = {}
    if json_path.exists():
        data = json.loads(json_path.read_text())
        results = {entry["name"]: entry for entry in data["results"]}
    return QuickRun(completed, json_path, results)


# --------------------------------------------------------------------------- the quick run


def test_quick_run_exits_0_and_shows_every_scenario(quick_run: QuickRun) -> None:
    out = quick_run.completed.stdout
    assert quick_run.completed.returncode == 0, out + quick_run.completed.stderr
    for name in SCENARIOS:
        assert name in out, f"scenario {name} missing from the output"
    assert set(quick_run.results) == set(SCENARIOS)
    failed = {
        n: r["reason"]
        for n, r in quick_run.results.items()
        if r["status"] != "ok" and not postgres_unavailable(n, r)
    }
    assert not failed, failed


def postgres_unavailable(name: str, result: dict[str, Any]) -> bool:
    """The PostgreSQL scenario could not start a server here (no PostgreSQL installed)."""
    return name == "postgres" and result["status"] == "not run"


@pytest.mark.parametrize("name", list(SCENARIOS), ids=list(SCENARIOS))
def test_quick_run_measures_something_in_every_scenario(quick_run: QuickRun, name: str) -> None:
    if postgres_unavailable(name, quick_run.results[name]):
        pytest.skip(f"PostgreSQL: {quick_run.results[name]['reason']}")
    metrics = quick_run.results[name]["metrics"]
    values = [m["value"] for m in metrics]
    assert values, f"{name} reported no metric"
    assert all(isinstance(v, int | float) and v >= 0 for v in values), metrics


def test_quick_poll_contenders_did_the_same_work(quick_run: QuickRun) -> None:
    details = quick_run.results["poll"]["details"]
    runs, expected = details["runs"], details["new_items_expected"]
    feeds, changed = details["plan"]["feeds"], details["changed_feeds"]
    assert expected > 0 and changed > 0
    for run in runs["briefbot"] + runs["briefbot-in-process"]:
        # Every new item stored once; unchanged feeds answered 304 to its ETags.
        assert run["new_items"] == expected
        assert run["farm"]["by_status"] == {"200": changed, "304": feeds - changed}
        # The cycle split in two: downloads and parses, then the storing after them.
        assert 0 < run["fetch_parse_seconds"] <= run["seconds"]
    for run in runs["floor"]:
        assert (run["changed"], run["not_modified"]) == (changed, feeds - changed)
    for run in runs["naive"]:
        assert run["new_items"] > 0 and run["failed_feeds"] == 0


def test_quick_peers_did_the_same_work_as_whole_processes(quick_run: QuickRun) -> None:
    result = quick_run.results["peers"]
    assert not [note for note in result["notes"] if note.startswith("WARNING")], result["notes"]
    for label, details in result["details"].items():
        feeds, changed = details["case"]["feeds"], details["changed_feeds"]
        runs = details["runs"]
        assert set(runs) == {"briefbot", "floor"} | {"newsboat", "rss2email"} - set(
            details["skipped"]
        ), label
        for name, name_runs in runs.items():
            for run in name_runs:
                assert run["by_status"] == {"200": changed, "304": feeds - changed}, name
                if name != "floor":
                    assert (run["returncode"], run["new_items"]) == (0, details["new_items"])
        for name, reason in details["skipped"].items():
            assert "not installed" in reason
            assert any(f"{name} skipped" in note for note in result["notes"])


@pytest.mark.parametrize("mode", ["burst", "sustained", "crowd", "busy burst", "busy crowd"])
def test_quick_ack_answered_every_command(quick_run: QuickRun, mode: str) -> None:
    details = quick_run.results["ack"]["details"][mode]
    assert details["requests"] > 0
    assert details["non_200"] == 0
    assert details["replies"] == details["requests"]
    assert (details["lost"], details["apologies"]) == (0, 0)


def test_quick_ack_busy_bursts_ran_during_polls_and_digests(quick_run: QuickRun) -> None:
    work = quick_run.results["ack"]["details"]["work"]
    assert len(work["poll_cycles_s"]) >= 2
    assert (work["failed_feeds"], work["errors"]) == (0, [])
    assert set(work["digest_statuses"]) <= {"sent", "skipped"}


def test_quick_postgres_claimed_every_row_once_and_searched_the_loaded_items(
    quick_run: QuickRun,
) -> None:
    result = quick_run.results["postgres"]
    if postgres_unavailable("postgres", result):
        pytest.skip(f"PostgreSQL: {result['reason']}")
    details = result["details"]
    claims = details["claims"]
    assert (claims["claimed"], claims["claimed_twice"]) == (claims["rows"], 0)
    # The loaded corpus, then what the poll cycles and ingests added on top.
    assert details["items"] >= details["build"]["items"] > 0
    assert details["search_scoped"]["items"] > 0
    assert details["search_scoped"]["without_hits"] < details["search_scoped"]["searches"]


@pytest.mark.parametrize("mode", ["idle", "pool", "in-process"])
def test_quick_hostile_acked_every_command_while_the_feeds_parsed(
    quick_run: QuickRun, mode: str
) -> None:
    details = quick_run.results["hostile"]["details"][mode]
    assert details["requests"] > 0
    assert (details["non_200"], details["replied"]) == (0, True)
    assert details["replies"] == details["requests"]
    if mode != "idle":
        assert details["cycles"]
        assert details["statuses"] == [
            "hostile-brackets: ok ",
            "hostile-categories: ok ",
        ]


def test_quick_targets_are_not_judged(quick_run: QuickRun) -> None:
    assert "not judged" in quick_run.completed.stdout
    assert "missed" not in quick_run.completed.stdout


def test_write_fills_the_markers_and_keeps_the_prose(quick_run: QuickRun, tmp_path: Path) -> None:
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text(
        f"# Benchmarks\n\nIntro stays.\n\n{START_MARKER}\nold table\n{END_MARKER}\n\n## Findings\n"
    )
    completed = run_bench(
        "--from-json", str(quick_run.json_path), "--write", "--markdown", str(markdown)
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    text = markdown.read_text()
    assert text.startswith("# Benchmarks\n\nIntro stays.")
    assert text.rstrip().endswith("## Findings")
    assert "old table" not in text
    assert "Quick run: tiny sizes, targets not judged." in text
    for entry in quick_run.results.values():
        assert entry["title"] in text
    assert "Commit:" in text and "Machine:" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--only", "nosuch"], "unknown scenario 'nosuch'", id="unknown-scenario"),
        pytest.param(["--only", "poll,bogus"], "unknown scenario 'bogus'", id="unknown-in-list"),
        pytest.param(["--repeats", "0"], "--repeats must be at least 1", id="zero-repeats"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(args: list[str], message: str) -> None:
    completed = run_bench(*args, timeout=60)
    assert completed.returncode == 2
    assert message in completed.stderr


# --------------------------------------------------------------------------- the feed farm


@pytest.fixture
def farm() -> Iterator[FeedFarm]:
    with FeedFarm(12, latency=0.0, hosts=2, files=source_files(smallest=3)) as server:
        yield server


def _items(body: bytes, feed_id: str = "f") -> list[Any]:
    result = parse_feed(feed_id, body, fetched_at=datetime.now(UTC), time_limit=None)
    assert result.error is None, result.error
    return list(result.items)


def test_farm_answers_304_until_the_feed_changes(farm: FeedFarm) -> None:
    with httpx.Client() as client:
        first = client.get(farm.urls[4])
        etag = first.headers["etag"]
        assert first.status_code == 200
        assert client.get(farm.urls[4], headers={"If-None-Match": etag}).status_code == 304
        assert client.get(farm.urls[4], headers={"If-None-Match": f"W/{etag}"}).status_code == 304
        added = farm.advance(1.0, seed=3)
        changed = client.get(farm.urls[4], headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    before, after = _items(first.content), _items(changed.content)
    assert len(after) == len(before) + added[4]
    new = after[: added[4]]
    assert {i.id for i in new}.isdisjoint(i.id for i in before)
    assert [i.id for i in after[added[4] :]] == [i.id for i in before]
    # New items are dated today: news, not backlog.
    assert all(i.published is not None and i.published >= NOW for i in new)


def test_farm_feeds_made_from_one_recording_differ(farm: FeedFarm) -> None:
    """Copies of one recorded feed share no item id, and their English titles differ."""
    sources = farm.feeds.sources
    with httpx.Client() as client:
        for source in sorted(set(sources)):
            first, second = [n for n in range(len(sources)) if sources[n] == source][:2]
            a = _items(client.get(farm.urls[first]).content)
            b = _items(client.get(farm.urls[second]).content)
            assert len(a) == len(b) > 0, source
            assert {i.id for i in a}.isdisjoint(i.id for i in b), source
            for x, y in zip(a, b, strict=True):
                # Japanese titles have no space-separated words to swap: they may repeat.
                if len(re.findall(r"\b[A-Za-z]{4,}\b", x.title)) >= 3:
                    assert x.title != y.title, source


def test_farm_spreads_feeds_over_loopback_hosts_and_404s_unknown_ones(farm: FeedFarm) -> None:
    hosts = {httpx.URL(url).host for url in farm.urls}
    assert hosts <= {f"127.0.0.{h}" for h in range(1, 9)}
    assert len(hosts) == farm.hosts
    missing = farm.urls[0].replace("/feeds/0.xml", "/feeds/999.xml")
    assert httpx.get(missing).status_code == 404


@pytest.mark.parametrize(
    ("feeds", "share", "per_block"),
    [
        pytest.param(250, 0.10, [10, 10, 5], id="10pct-of-250"),
        pytest.param(120, 0.25, [25, 5], id="25pct-of-120"),
        pytest.param(50, 0.0, [0], id="none"),
    ],
)
def test_changed_share_is_the_same_in_every_block_of_100(
    feeds: int, share: float, per_block: list[int]
) -> None:
    farm = FarmFeeds(feeds, source_files(smallest=2))
    changed = farm.changed_feeds(share, seed=1)
    counts = [sum(1 for n in changed if start <= n < start + 100) for start in range(0, feeds, 100)]
    assert counts == per_block


def test_naive_bot_stores_exactly_the_new_items(farm: FeedFarm, tmp_path: Path) -> None:
    database = tmp_path / "naive.json"
    stored = seed_database(farm.urls, database)
    added = farm.advance(0.5, seed=2)
    cycle = poll_cycle(farm.urls, database)
    assert cycle.failed_feeds == 0
    assert cycle.new_items == sum(added.values())
    with TinyDB(database) as db:
        assert len(db) == stored + sum(added.values())


# --------------------------------------------------------------------------- the report


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        pytest.param(list(range(1, 101)), 0.50, 50, id="p50-of-1-100"),
        pytest.param(list(range(1, 101)), 0.99, 99, id="p99-of-1-100"),
        pytest.param([5.0], 0.99, 5.0, id="single-value"),
        pytest.param([3, 1, 2], 1.0, 3, id="max-unsorted"),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], fraction: float, expected: float) -> None:
    assert percentile(values, fraction) == expected


UNDER_2S = Target("<=", 2.0, "under 2 s")
TEN_X = Target(">=", 10, "≥ 10x")


@pytest.mark.parametrize(
    ("metric", "quick", "verdict"),
    [
        pytest.param(Metric("x", 1.9, "s", UNDER_2S), False, "met", id="under"),
        pytest.param(Metric("x", 2.1, "s", UNDER_2S), False, "missed", id="over"),
        pytest.param(Metric("x", 9.0, "x", TEN_X), False, "missed", id="too-slow"),
        pytest.param(Metric("x", 9.0, "x", TEN_X), True, "not judged", id="quick"),
        pytest.param(Metric("x", 9.0, "ms"), False, "", id="no-target"),
    ],
)
def test_verdicts(metric: Metric, quick: bool, verdict: str) -> None:
    assert metric.verdict(quick=quick) == verdict
