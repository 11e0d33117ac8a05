"""A feed farm on loopback: N feeds made from recorded real feeds, with ETags, changes and latency.

`FeedFarm` serves `http://127.0.0.H:PORT/feeds/N.xml` for N in 0..feeds-1:
recorded real feeds rewritten so that no two share an item id or a title,
each answer after `latency` seconds, with ETags, 304 Not Modified and gzip.
`advance(share, seed)` prepends new items to the same share of every block of
100 feeds; `reset()` undoes it. The farm is made of:

- bench/farm_rewrite.py: a recorded feed made into many distinct ones, and new items;
- bench/farm_feeds.py: the feeds' current bodies and ETags, and their changes;
- bench/farm_server.py: the HTTP servers on the loopback addresses, and `FeedFarm`;
- this module: `FarmProcess` and `main`, the farm in a process of its own.

Run it in a process of its own (`python -m bench.feedfarm`, or `FarmProcess`)
so that serving does not take the measured process's CPU or GIL; the first
line it prints is JSON with the feed URLs and the control URL
(`POST /_farm/advance`, `POST /_farm/reset`, `GET /_farm/stats`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from bench.corpus import ROOT, source_files
from bench.farm_feeds import FarmFeeds
from bench.farm_rewrite import vary_entry, vary_feed
from bench.farm_server import FarmServer, FeedFarm

__all__ = [
    "FarmFeeds",
    "FarmProcess",
    "FarmServer",
    "FeedFarm",
    "main",
    "vary_entry",
    "vary_feed",
]


class FarmProcess:
    """The farm in a child process (`python -m bench.feedfarm`), driven over HTTP."""

    def __init__(
        self, feeds: int, *, latency: float, hosts: int = 8, smallest: int | None = None
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "bench.feedfarm",
            "--feeds",
            str(feeds),
            "--latency",
            str(latency),
            "--hosts",
            str(hosts),
        ]
        if smallest is not None:
            command += ["--smallest", str(smallest)]
        self._process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=10)
            error = self._process.stderr.read() if self._process.stderr else ""
            raise RuntimeError(f"the feed farm did not start: {error.strip()[-2000:]}")
        hello = json.loads(line)
        self.urls: list[str] = hello["urls"]
        self.control_url: str = hello["control"]
        self.hosts: int = hello["hosts"]
        self.sources: list[str] = hello["sources"]

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.control_url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=60) as answer:  # loopback control only
            return json.loads(answer.read())

    def advance(self, share: float, seed: int) -> dict[int, int]:
        added = self._call("POST", "/_farm/advance", {"share": share, "seed": seed})["added"]
        return {int(k): int(v) for k, v in added.items()}

    def reset(self) -> None:
        self._call("POST", "/_farm/reset", {})

    def clear_stats(self) -> None:
        self._call("POST", "/_farm/clear-stats", {})

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_farm/stats")
        return result

    def stop(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the farm's cue to stop
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before each answer")
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses to spread over")
    parser.add_argument("--smallest", type=int, default=None, help="use only the n smallest files")
    args = parser.parse_args(argv)
    farm = FeedFarm(
        args.feeds,
        latency=args.latency,
        hosts=args.hosts,
        files=source_files(smallest=args.smallest),
    ).start()
    hello = {
        "urls": farm.urls,
        "control": farm.control_url,
        "hosts": farm.hosts,
        "sources": farm.feeds.sources,
    }
    print(json.dumps(hello), flush=True)
    try:
        # Serve until stdin closes: the parent closed it, or died (so no farm outlives
        # its benchmark). SIGTERM ends the process as well.
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    finally:
        farm.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
