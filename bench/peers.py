"""The programs people run instead of briefbot, as whole processes on the feed farm.

Each contender is a `Peer`: `seed(workdir)` makes its earlier poll (a first
run over the unchanged farm, leaving its state: ETags, items seen), `run(
state)` is the measured cycle on a copy of that state, as a process, with
its wall-clock time, and `stored(state)` counts the items its state holds, so
the harness can check that each one stored the new items and no others.

- briefbot: `python -m bot --config F --data-dir D poll` (stdout a pipe, as
  under cron), on a data directory seeded like the in-process benchmark's
  (subscriptions, one first poll).
- newsboat (C++, libcurl, `reload-threads` threads; Debian package
  `newsboat`): `newsboat -u urls -c cache.db -C config -x reload`. Items:
  rows of `rss_item` in its SQLite cache. It sends If-None-Match from its
  second reload of a feed on, so its earlier poll is two reloads.
- rss2email (Python, feedparser, one feed after the other; Debian package
  `rss2email`): `r2e -c conf -d data.json run --no-send`. Items: the entries
  its data file records as seen.

A peer whose program is not installed is skipped with that reason
(`missing`). Every process runs with HOME in the work directory, so nothing
of the user's own configuration is read or written.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from bench.corpus import ROOT

__all__ = [
    "BriefbotPeer",
    "NewsboatPeer",
    "Peer",
    "PeerRun",
    "Rss2emailPeer",
    "briefbot_yaml",
]

PROCESS_TIMEOUT = 600.0


@dataclass(frozen=True)
class PeerRun:
    """One measured cycle of one contender, as a whole process."""

    seconds: float
    returncode: int
    stderr_tail: str


class Peer(Protocol):
    name: str

    def missing(self) -> str | None:
        """Why this peer cannot run here (its program is absent), or None."""

    def seed(self, state: Path) -> None:
        """The earlier poll: a fresh state in `state`, then one first cycle over the farm."""

    def run(self, state: Path) -> PeerRun:
        """One cycle over the farm as a process, on the state in `state`."""

    def stored(self, state: Path) -> int:
        """How many items the state in `state` holds."""


def _timed_process(command: list[str], *, cwd: Path, env: dict[str, str]) -> PeerRun:
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    tail = completed.stderr.decode("utf-8", "replace").strip()[-1000:]
    return PeerRun(seconds, completed.returncode, tail)


def _checked(run: PeerRun, what: str) -> PeerRun:
    if run.returncode != 0:
        raise RuntimeError(f"{what} exited with {run.returncode}: {run.stderr_tail}")
    return run


def _env(home: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {**keep, "HOME": str(home), **extra}


# --------------------------------------------------------------------------- briefbot


def briefbot_yaml(urls: list[str], data_dir: Path, *, per_host: int = 4) -> str:
    """A feeds.yaml for the farm's feeds, with the repository's topics."""
    topics = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))["topics"]
    settings = {
        "data_dir": str(data_dir),
        "connect_timeout": "10s",
        "read_timeout": "30s",
        "total_timeout": "1m",
        "concurrency": 16,
        "per_host_concurrency": per_host,
    }
    feeds = [
        {"id": f"farm-{n:04d}", "url": url, "tags": ["news"], "allow_private": True}
        for n, url in enumerate(urls)
    ]
    text: str = yaml.safe_dump(
        {"settings": settings, "feeds": feeds, "topics": topics}, sort_keys=False
    )
    return text


@dataclass
class BriefbotPeer:
    """`briefbot poll` as a process; the earlier poll made in this process (as poll_bench)."""

    urls: list[str]
    subscriptions: int = 200
    per_host: int = 4
    name: str = "briefbot"

    def missing(self) -> str | None:
        return None

    def _config(self, state: Path) -> Path:
        path = state / "feeds.yaml"
        path.write_text(briefbot_yaml(self.urls, state / "data", per_host=self.per_host))
        return path

    def _command(self, state: Path) -> list[str]:
        config = self._config(state)
        return [sys.executable, "-m", "bot", "--config", str(config), "poll"]

    def _env(self, state: Path) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        return _env(state, PYTHONPATH=path)

    def seed(self, state: Path) -> None:
        from datetime import UTC, datetime

        from bench.common import make_subscriptions
        from bot.app.runtime import Runtime
        from bot.config.schema import load_config

        state.mkdir(parents=True, exist_ok=True)
        config = load_config(self._config(state), env={})
        with Runtime.open(config) as runtime:
            subs = make_subscriptions(
                self.subscriptions,
                topics=config.topics,
                feeds=[f.id for f in config.feeds],
                now=datetime.now(UTC),
            )
            with runtime.store.transaction() as tx:
                for sub in subs:
                    tx.subscriptions.put(sub)
        _checked(_timed_process(self._command(state), cwd=state, env=self._env(state)), "seed")

    def run(self, state: Path) -> PeerRun:
        return _timed_process(self._command(state), cwd=state, env=self._env(state))

    def stored(self, state: Path) -> int:
        from bot.store.tinydb.store import TinyStore

        with TinyStore.open(state / "data", read_only=True) as store:
            return store.items.count()


# --------------------------------------------------------------------------- newsboat


@dataclass
class NewsboatPeer:
    """newsboat 2.x reloading every feed without its user interface (`-x reload`)."""

    urls: list[str]
    threads: int = 16
    name: str = "newsboat"

    def missing(self) -> str | None:
        return None if shutil.which("newsboat") else "newsboat is not installed (apt newsboat)"

    def _command(self, state: Path) -> list[str]:
        return [
            "newsboat",
            "-u",
            str(state / "urls"),
            "-c",
            str(state / "cache.db"),
            "-C",
            str(state / "config"),
            "-x",
            "reload",
        ]

    def seed(self, state: Path) -> None:
        state.mkdir(parents=True, exist_ok=True)
        (state / "urls").write_text("".join(f"{url}\n" for url in self.urls))
        (state / "config").write_text(
            f"reload-threads {self.threads}\ndownload-timeout 30\ndownload-retries 1\n"
        )
        # newsboat keeps a feed's ETag only once the feed is in its cache: the
        # first reload stores the feed, the second its ETag (as a user's second day).
        _checked(self.run(state), "newsboat's first reload")
        _checked(self.run(state), "newsboat's second reload")

    def run(self, state: Path) -> PeerRun:
        return _timed_process(self._command(state), cwd=state, env=_env(state))

    def stored(self, state: Path) -> int:
        with sqlite3.connect(state / "cache.db") as db:
            (count,) = db.execute("SELECT count(*) FROM rss_item").fetchone()
        return int(count)


# --------------------------------------------------------------------------- rss2email


@dataclass
class Rss2emailPeer:
    """rss2email 3 fetching every feed and marking entries seen, sending nothing."""

    urls: list[str]
    name: str = "rss2email"

    def missing(self) -> str | None:
        return None if shutil.which("r2e") else "rss2email is not installed (apt rss2email)"

    def _base(self, state: Path) -> list[str]:
        return ["r2e", "-c", str(state / "r2e.cfg"), "-d", str(state / "r2e.json")]

    def seed(self, state: Path) -> None:
        state.mkdir(parents=True, exist_ok=True)
        _checked(
            _timed_process(
                [*self._base(state), "new", "bench@example.invalid"], cwd=state, env=_env(state)
            ),
            "r2e new",
        )
        with (state / "r2e.cfg").open("a", encoding="utf-8") as out:
            for n, url in enumerate(self.urls):
                out.write(f"\n[feed.farm-{n:04d}]\nurl = {url}\n")
        _checked(self.run(state), "rss2email's first run")

    def run(self, state: Path) -> PeerRun:
        return _timed_process([*self._base(state), "run", "--no-send"], cwd=state, env=_env(state))

    def stored(self, state: Path) -> int:
        data = json.loads((state / "r2e.json").read_text(encoding="utf-8"))
        return sum(len(feed.get("seen") or {}) for feed in data.get("feeds", []))
