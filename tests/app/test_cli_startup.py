"""What `briefbot` loads before it does anything: each command only what it uses.

Start-up time is import time: `--help` must not pay for the runtime, httpx,
Jinja2 or rich, and `poll` not for the search engine, the templates or Slack.
Checked in a fresh interpreter with `-X importtime`, which names every module
a process imported (on stderr).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.cli.main import build_parser, resolve_command
from tests.app.test_cli import clean_env, write_feeds
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer


def imported_by(*args: str, cwd: Path | None = None) -> tuple[set[str], str]:
    """The modules `briefbot ARGS` imported, and what it printed on stdout."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=cwd,
        timeout=120,
        check=False,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return modules, result.stdout


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if a.dest == "command")
    choices = action.choices
    assert isinstance(choices, dict)
    return choices


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_names_a_function_that_exists(command: str) -> None:
    name = subcommands()[command].get_default("func")
    assert isinstance(name, str) and ":" in name, f"{command}: register it as 'module:function'"
    assert callable(resolve_command(name))


def test_help_loads_no_part_of_the_bot_it_does_not_show() -> None:
    modules, out = imported_by("--help")
    assert "poll" in out and "search" in out
    heavy = {"bot.app.runtime", "bot.store.tinydb", "bot.config.schema", "yaml"}
    heavy |= {"httpx", "jinja2", "rich", "feedparser", "slack_sdk"}
    assert not heavy & modules


def test_poll_loads_no_search_engine_template_or_slack(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)))
    config = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, tmp_path / "d")
    modules, out = imported_by("--config", str(config), "poll", cwd=tmp_path)
    assert "a" in out and "3" in out  # the feed and its new items were reported
    assert "bot.ingest.fetch.client" in modules  # it did poll
    unused = {
        "bot.store.searchdb.index",
        "bot.render.renderer",
        "jinja2",
        "slack_sdk",
        "apscheduler",
    }
    unused |= {"pycountry", "rapidfuzz", "anyascii"}  # screening names, watched names
    # Feeds are fetched on asyncio with h11 (bot/ingest/fetch/wire.py): httpx, the
    # language model's client, is not loaded (25-30 ms before the downloads began).
    unused |= {"httpx", "httpcore", "anyio"}
    # No screening list set, no Entity List rule waiting for its names: none of the
    # list's code, nor the watch matcher (no watches).
    unused |= {"bot.ingest.screening.source", "bot.ingest.screening.frxml", "defusedxml"}
    unused |= {"bot.brief.watchlist"}
    assert not unused & modules, sorted(unused & modules)


def test_a_poll_forks_its_parse_workers_and_starts_no_forkserver(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 3)))
    config = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, tmp_path / "d")
    modules, out = imported_by("--config", str(config), "poll", cwd=tmp_path)
    assert "a" in out and "3" in out  # parsed: its three items stored
    assert "multiprocessing.popen_fork" in modules  # workers forked (bot/ingest/forkparse.py)
    assert "multiprocessing.forkserver" not in modules  # not a forkserver's (0.2 s of CPU)


def test_a_one_shot_command_collects_cycles_in_larger_batches_the_service_as_usual() -> None:
    """`briefbot poll` and the other one-shot commands raise the collector's young
    threshold (most of their allocations are imports that live as long as the process);
    `run` and `console` keep the interpreter's default."""
    script = (
        "import gc, json\n"
        "from bot.app.cli.main import tune_gc\n"
        "default = gc.get_threshold()\n"
        "seen = {}\n"
        "for command in ('poll', 'search', 'run', 'console'):\n"
        "    gc.set_threshold(*default)\n"
        "    tune_gc(command)\n"
        "    seen[command] = gc.get_threshold()\n"
        "print(json.dumps({'default': default, **seen}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=True,
    )
    seen = json.loads(result.stdout)
    assert seen["poll"] == seen["search"] == [10_000, 10, 10]
    assert seen["run"] == seen["console"] == seen["default"]
