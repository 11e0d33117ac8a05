"""The `briefbot` command line: a thin layer over config, pipeline and store.

Exit status: 0 success, 1 the work failed (for `poll`: every feed failed),
2 bad usage or an invalid configuration, 3 the data directory is in use.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import time as _time
from pathlib import Path

from bot import __version__
from bot.app.runtime import Runtime
from bot.app.terminal import (
    make_console,
    poll_progress,
    print_error,
    print_items,
    print_json,
    print_poll_table,
    print_search_results,
    print_slack_messages,
    print_text,
)
from bot.config.describe import describe_config
from bot.config.model import Config, ConfigError
from bot.config.schema import load_config
from bot.find.query import QueryError
from bot.models import SlackMessage, replace
from bot.store.tinydb.engine import Store, StoreError, StoreLockedError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3

Command = Callable[[argparse.Namespace], int]


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if args.data_dir:
        config = replace(config, settings=replace(config.settings, data_dir=args.data_dir))
    return config


def _open_store(config: Config) -> Store:
    return Store.open(config.settings.data_dir, retention_days=config.settings.retention_days)


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.render.renderer import Renderer

    config = _load(args)
    console = make_console()
    problems = Renderer(config.settings.templates_dir).check()
    if problems:
        print_error(f"{config.path}: templates have problems:\n" + "\n".join(problems))
        return EXIT_USAGE
    if args.json:
        print_json(console, describe_config(config))
        return EXIT_OK
    print_text(console, f"{config.path}: valid", style="bold green")
    print_json(console, describe_config(config))
    if not config.enabled_feeds:
        print_text(console, "warning: no enabled feeds: the bot has nothing to watch", "yellow")
    return EXIT_OK


def cmd_poll(args: argparse.Namespace) -> int:
    config = _load(args)
    console = make_console()
    wanted = set(args.feed) if args.feed else None
    if wanted:
        unknown = sorted(wanted - {f.id for f in config.feeds})
        if unknown:
            print_error(f"{config.path}: no feed with id {', '.join(unknown)}")
            return EXIT_USAGE
    with Runtime.open(config) as runtime:
        total = sum(1 for f in config.enabled_feeds if wanted is None or f.id in wanted)
        with poll_progress(console, total) as advance:
            reports = runtime.poll(feed_ids=wanted, force=not args.due_only, on_report=advance)
    if not reports:
        print_text(console, "No feed is due. Use `briefbot poll` without --due-only to poll now.")
        return EXIT_OK
    print_poll_table(console, reports)
    if all(r.status == "error" for r in reports):
        return EXIT_FAILED
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app.service import run_service

    return run_service(_load(args), port=args.port)


def cmd_console(args: argparse.Namespace) -> int:
    from bot.app.console import run_console

    with Runtime.open(_load(args)) as runtime:
        run_console(runtime)
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    config = _load(args)
    console = make_console()
    text = " ".join(args.query)
    with Runtime.open(config) as runtime:
        try:
            results = runtime.search(text, limit=args.limit)
        except QueryError as exc:
            print_error(f"query error: {exc}")
            return EXIT_USAGE
        print_search_results(console, results.hits, results.total, text)
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.config.model import DigestConfig
    from bot.slack.client import make_web_client
    from bot.slack.deliver import Deliverer

    config = _load(args)
    console = make_console()
    with Runtime.open(config) as runtime:
        digest = runtime.digest_config(args.channel)
        if digest is None:
            if not args.dry_run:
                print_error(
                    f"{config.path}: no digest for channel {args.channel}; add it under `digests:`"
                )
                return EXIT_USAGE
            digest = DigestConfig(channel=args.channel, at=_time(8, 30), timezone="UTC")
        if args.dry_run:
            _view, messages = runtime.build_digest(digest)
            runtime.close(commit=False)  # a dry run changes nothing
            if args.json:
                print_json(console, [_payload(args.channel, m) for m in messages])
            elif not messages:
                print_text(console, f"Nothing new for {args.channel} since its last digest.")
            else:
                print_slack_messages(console, messages)
            return EXIT_OK
        poster = Deliverer(make_web_client(config.slack))
        outcome = runtime.send_digest(digest, poster)
    if outcome.status == "failed":
        print_error(f"digest for {args.channel} not delivered: {outcome.error}")
        return EXIT_FAILED
    print_text(console, f"digest for {args.channel}: {outcome.status} ({outcome.items} items)")
    return EXIT_OK


def _payload(channel: str, message: SlackMessage) -> dict[str, object]:
    """The chat.postMessage arguments the bot sends for `message`."""
    from bot.render.renderer import DIGEST_POST_OPTIONS

    payload: dict[str, object] = {"channel": channel, "text": message.text}
    payload["blocks"] = [dict(b) for b in message.blocks]
    payload.update(DIGEST_POST_OPTIONS)
    if message.in_thread:
        payload["thread_ts"] = "<ts of the first message>"
    return payload


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.app.demo import demo_config, serve_demo_feeds
    from bot.config.model import DigestConfig

    base = load_config(args.config)  # for its topics and settings; the feeds are replaced
    console = make_console()
    with tempfile.TemporaryDirectory(prefix="briefbot-demo-") as tmp:
        data_dir = args.data_dir or str(Path(tmp) / "data")
        with serve_demo_feeds() as server:
            config = demo_config(base, server, data_dir)
            print_text(console, f"Serving {len(config.feeds)} recorded feeds on {server.url('')}")
            print_text(console, f"Data directory: {data_dir}\n")
            with Runtime.open(config) as runtime:
                print_text(
                    console,
                    "1. Yesterday: the first poll records each feed's items as "
                    "backlog (nobody is alerted about old news).",
                    "bold",
                )
                print_poll_table(console, runtime.poll(force=True))
                first_seq = runtime.store.last_seq
                server.phase = "today"
                print_text(
                    console, "\n2. Today: new entries appeared; only they are stored.", "bold"
                )
                print_poll_table(console, runtime.poll(force=True))
                new = list(runtime.store.iter_items(after_seq=first_seq))
                print_items(console, new, title="New today")
                print_text(
                    console,
                    "\n3. Polling again: nothing changed, the server answers "
                    "304 Not Modified, nothing is stored twice.",
                    "bold",
                )
                print_poll_table(console, runtime.poll(force=True))
                digest = DigestConfig(channel="C0DEMO", at=_time(8, 30), timezone="Asia/Tokyo")
                print_text(
                    console,
                    "\n4. The morning digest channel C0DEMO would get "
                    "(grouped by topic; a story in two feeds shown once):",
                    "bold",
                )
                _view, messages = runtime.build_digest(digest)
                print_slack_messages(console, messages)
                query = '"entity list"'
                print_text(console, f"\n5. /brief {query}: search what the bot has seen.", "bold")
                results = runtime.search(query, limit=5)
                print_search_results(console, results.hits, results.total, query)
                print_text(console, f"\nThe store holds {runtime.store.item_count()} items.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="briefbot",
        description="A Slack briefing bot: watches feeds, briefs channels, answers /brief.",
        epilog="Example:\n  briefbot demo\n  briefbot --config feeds.yaml poll",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"briefbot {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="feeds.yaml to use (default: $BRIEFBOT_CONFIG, else ./feeds.yaml, "
        "else the embedded defaults)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="data directory (default: $BRIEFBOT_DATA or ./data)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Command, help_text: str, example: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"Example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(func=func)
        return p

    p = add(
        "run",
        cmd_run,
        "Run the service: scheduler + Slack app (Socket Mode when SLACK_APP_TOKEN is set, "
        "else HTTP mode on --port, path /slack/events).",
        "briefbot run --port 3000",
    )
    p.add_argument("--port", type=int, default=3000, help="HTTP-mode port (default 3000)")
    add(
        "console",
        cmd_console,
        "Type /brief lines at a prompt; the same handlers as Slack answer. Needs no token.",
        "briefbot console",
    )
    p = add(
        "poll",
        cmd_poll,
        "Poll every enabled feed once now, store new items, print per-feed results.",
        "briefbot poll --feed fr-bis",
    )
    p.add_argument("--feed", action="append", metavar="ID", help="only this feed (repeatable)")
    p.add_argument(
        "--due-only", action="store_true", help="only feeds whose next poll time has come"
    )
    p = add(
        "search",
        cmd_search,
        "Search what the bot has seen, ranked, with the query language /brief uses.",
        "briefbot search '\"entity list\" since:30d'",
    )
    p.add_argument("query", nargs="+", help="a query, or plain words such as: what's new on IPEF")
    p.add_argument("--limit", type=int, default=10, help="results to show (default 10)")
    p = add(
        "digest",
        cmd_digest,
        "Build a channel's digest now and post it (or print it with --dry-run).",
        "briefbot digest --channel C0123456789 --dry-run",
    )
    p.add_argument("--channel", required=True, metavar="C", help="the channel id of a digest")
    p.add_argument("--dry-run", action="store_true", help="print instead of posting")
    p.add_argument("--json", action="store_true", help="with --dry-run: the exact Slack payloads")
    add(
        "demo",
        cmd_demo,
        "Run the pipeline offline on bundled recorded feeds served over loopback.",
        "briefbot demo",
    )
    p = add(
        "check-config",
        cmd_check_config,
        "Validate feeds.yaml and print the resolved settings, secrets redacted.",
        "briefbot --config feeds.yaml check-config",
    )
    p.add_argument("--json", action="store_true", help="print only the resolved settings as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except StoreLockedError as exc:
        print_error(str(exc))
        return EXIT_LOCKED
    except StoreError as exc:
        print_error(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    return result
