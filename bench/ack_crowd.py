"""One load of the ack scenario, alone and at any size: commands at once, with the poll or not.

`python -m bench.ack_crowd --items 10000 --feeds 1000 --crowd 200` opens the
ack scenario's bot (bench/ack_bench.py: the store benchmark's data dir,
copied, search index built, the real Bolt app behind the HTTP server), runs
the farm's polls and digests (bench/ack_work.py) until `--cycles` polls have
finished, then sends `--crowd` signed `/brief` commands at once from a
process of its own (bench/ack_clients.py) while that work goes on; `--quiet`
sends them with nothing else running. It prints the acks, the first replies,
what was lost or apologised for, and where the command work went: each
command's wall and thread CPU time in the handler, by the text typed.

What `python -m bench --only ack` takes half an hour to reach (its "200 at
once, during poll + digest" row), in a few minutes at 10,000 items; the
numbers are for finding causes, the full scenario's are the ones recorded.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.ack_bench import _clients, _open_bot
from bench.ack_clients import SIGNING_SECRET, ClientPlan
from bench.ack_work import BackgroundWork
from bench.common import load_average
from bench.feedfarm import FarmProcess
from bench.results import percentile
from bot.config.model import SlackSecrets
from bot.models import CommandReply, CommandRequest
from bot.slack.app import CommandHandler

__all__ = ["main"]

Timed = list[tuple[str, float, float]]


def _timed(handler: CommandHandler, into: Timed) -> CommandHandler:
    """`handler`, noting each command's (text, wall s, thread CPU s) in `into`."""
    lock = threading.Lock()

    def timed(request: CommandRequest) -> CommandReply:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return handler(request)
        finally:
            with lock:
                into.append((request.text, time.perf_counter() - wall, time.thread_time() - cpu))

    return timed


def _measure(args: argparse.Namespace, base: Path, timed: Timed) -> dict[str, Any]:
    from bot.app.commands.dispatch import handle_command
    from bot.slack.app import build_app
    from bot.slack.client import make_web_client
    from bot.slack.deliver import Deliverer
    from bot.slack.http import serve_http
    from tests.support.fakeslack import FakeSlack

    smallest = None if args.feeds >= 1000 else 4
    farm = FarmProcess(args.feeds, latency=0.020, smallest=smallest)
    with farm, _open_bot(args.items, base, farm.urls) as bot, FakeSlack() as fake:
        runtime = bot.runtime
        secrets = SlackSecrets(
            bot_token=fake.token, signing_secret=SIGNING_SECRET, api_url=fake.url
        )
        handler = _timed(functools.partial(handle_command, runtime), timed)
        server = serve_http(build_app(secrets, handler), port=0, host="127.0.0.1")
        try:
            _clients(server.port, ClientPlan("burst", "warm-up", 1, warm=True))
            timed.clear()
            plan = ClientPlan("crowd", "crowd", args.crowd)
            if args.quiet:
                return _clients(server.port, plan)
            poster = Deliverer(make_web_client(secrets), interval=0.0)
            farm_ids = [f.id for f in runtime.config.feeds if f.id.startswith("farm-")]
            work = BackgroundWork(runtime, farm, poster, farm_ids, min_cycles=args.cycles)
            with work.running():
                work.done.wait()
                outcome = _clients(server.port, plan)
            outcome["work"] = {"polls_s": work.cycles, "digests": len(work.digests)}
            outcome["work"]["errors"] = work.errors
            return outcome
        finally:
            server.stop()


def _summary(outcome: dict[str, Any], timed: Timed) -> dict[str, Any]:
    rows = outcome["rows"]
    acks = [ack * 1000 for _, _, ack, _ in rows]
    replies = [reply for _, _, _, reply in rows if reply is not None]
    cpu = [c for _, _, c in timed]
    by_text: dict[str, list[float]] = {}
    for text, _, used in timed:
        by_text.setdefault(text, []).append(used)
    return {
        "commands": len(rows),
        "ack_p50_ms": round(percentile(acks, 0.50), 1),
        "ack_p99_ms": round(percentile(acks, 0.99), 1),
        "reply_p50_s": round(percentile(replies, 0.50), 2) if replies else None,
        "reply_p99_s": round(percentile(replies, 0.99), 2) if replies else None,
        "not_200": sum(1 for _, status, _, _ in rows if status != 200),
        "lost": len(rows) - len(replies),
        "apologies": len(outcome["apologies"]),
        "handler_cpu_s": {
            "p50": round(percentile(cpu, 0.50), 4) if cpu else None,
            "p99": round(percentile(cpu, 0.99), 4) if cpu else None,
            "sum": round(sum(cpu), 2),
        },
        "cpu_s_by_text": {
            text: round(sum(used) / len(used), 4)
            for text, used in sorted(by_text.items(), key=lambda kv: -sum(kv[1]))
        },
        "work": outcome.get("work"),
        "load_average": load_average(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ack_crowd", description=__doc__)
    parser.add_argument("--items", type=int, default=10_000, help="items stored (default 10000)")
    parser.add_argument("--feeds", type=int, default=1000, help="farm feeds polled")
    parser.add_argument("--crowd", type=int, default=200, help="commands sent at once")
    parser.add_argument("--cycles", type=int, default=2, help="polls before the crowd")
    parser.add_argument("--quiet", action="store_true", help="no poll, no digests")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the built store here")
    args = parser.parse_args(argv)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="ack-crowd-"))
    timed: Timed = []
    outcome = _measure(args, base, timed)
    print(json.dumps(_summary(outcome, timed), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
