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
from pathlib import Path

from bot import __version__
from bot.config import Config, ConfigError, describe_config, load_config
from bot.models import replace
from bot.pipeline import poll_feeds
from bot.store import Store, StoreError, StoreLockedError
from bot.terminal import (
    make_console,
    poll_progress,
    print_error,
    print_items,
    print_json,
    print_poll_table,
    print_text,
)

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
    config = _load(args)
    console = make_console()
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
    with _open_store(config) as store:
        total = sum(1 for f in config.enabled_feeds if wanted is None or f.id in wanted)
        with poll_progress(console, total) as advance:
            reports = poll_feeds(
                config, store, feed_ids=wanted, force=not args.due_only, on_report=advance
            )
    if not reports:
        print_text(console, "No feed is due. Use `briefbot poll` without --due-only to poll now.")
        return EXIT_OK
    print_poll_table(console, reports)
    if all(r.status == "error" for r in reports):
        return EXIT_FAILED
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import demo_config, serve_demo_feeds

    base = load_config(args.config)  # for its topics and settings; the feeds are replaced
    console = make_console()
    with tempfile.TemporaryDirectory(prefix="briefbot-demo-") as tmp:
        data_dir = args.data_dir or str(Path(tmp) / "data")
        with serve_demo_feeds() as server:
            config = demo_config(base, server, data_dir)
            print_text(console, f"Serving {len(config.feeds)} recorded feeds on {server.url('')}")
            print_text(console, f"Data directory: {data_dir}\n")
            with _open_store(config) as store:
                print_text(
                    console,
                    "1. Yesterday: the first poll records each feed's items as "
                    "backlog (nobody is alerted about old news).",
                    "bold",
                )
                print_poll_table(console, poll_feeds(config, store, force=True))
                first_seq = store.last_seq
                server.phase = "today"
                print_text(
                    console, "\n2. Today: new entries appeared; only they are stored.", "bold"
                )
                print_poll_table(console, poll_feeds(config, store, force=True))
                new = list(store.iter_items(after_seq=first_seq))
                print_items(console, new, title="New today")
                print_text(
                    console,
                    "\n3. Polling again: nothing changed, the server answers "
                    "304 Not Modified, nothing is stored twice.",
                    "bold",
                )
                print_poll_table(console, poll_feeds(config, store, force=True))
                print_text(console, f"\nThe store holds {store.item_count()} items.")
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
        "poll",
        cmd_poll,
        "Poll every enabled feed once now, store new items, print per-feed results.",
        "briefbot poll --feed fr-bis",
    )
    p.add_argument("--feed", action="append", metavar="ID", help="only this feed (repeatable)")
    p.add_argument(
        "--due-only", action="store_true", help="only feeds whose next poll time has come"
    )
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
        level=logging.INFO if args.verbose else logging.WARNING,
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
