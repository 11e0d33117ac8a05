"""The commands that write: poll, run, console, digest (posting) and the offline demo.

They take the data directory for this process; when another process holds it
they stop with exit status 3 and a message naming it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from bot.app.cli.plain import write_poll_table
from bot.app.cli.shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, load_args_config
from bot.config.model import Config
from bot.models import FeedConfig, FeedState, PollReport

if TYPE_CHECKING:  # imported when used: the downloads start first (`_start_downloads`)
    from bot.ingest.parsepool import FeedParser
    from bot.ingest.prefetch import Prefetch

__all__ = ["cmd_console", "cmd_demo", "cmd_digest", "cmd_poll", "cmd_run"]


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll now; a table on a terminal (with a progress bar), plain columns otherwise."""
    config = load_args_config(args)
    wanted = set(args.feed) if args.feed else None
    if wanted:
        unknown = sorted(wanted - {f.id for f in config.feeds})
        if unknown:
            from bot.app.terminal import print_error

            print_error(f"{config.path}: no feed with id {', '.join(unknown)}")
            return EXIT_USAGE
    if sys.stdout.isatty():
        reports = _poll_on_terminal(config, wanted, force=not args.due_only)
    else:  # cron, a pipe, a file: no rich at all (bot/app/cli/plain.py)
        downloads = _start_downloads(config, wanted, force=not args.due_only)
        parser = _one_shot_parser(config)
        reports = _poll(
            config,
            wanted,
            force=not args.due_only,
            on_fetched=None,
            parser=parser,
            downloads=downloads,
        )
        if reports:
            write_poll_table(sys.stdout, reports)
    if not reports:
        print("No feed is due. Use `briefbot poll` without --due-only to poll now.")
        return EXIT_OK
    if all(r.status == "error" for r in reports):
        return EXIT_FAILED
    return EXIT_OK


def _poll(
    config: Config,
    wanted: Collection[str] | None,
    *,
    force: bool,
    on_fetched: Callable[[str], None] | None,
    parser: FeedParser,
    downloads: Prefetch | None = None,
) -> list[PollReport]:
    from bot.app.runtime import Runtime
    from bot.ingest.forkparse import ForkedParsePool

    ahead = None
    try:
        if downloads is not None and isinstance(parser, ForkedParsePool) and parser.forked:
            # The documents already in are parsed while the store opens (parseahead.py).
            ahead = parser.parse_ahead(summary_max_chars=config.settings.summary_max_chars)
            downloads.listen(ahead.offer)
        with Runtime.open(config) as runtime:
            if ahead is not None:
                ahead.pause()  # the poll parses from here, this process beside the worker
            runtime.parser = parser
            if downloads is not None:
                runtime.fetch = downloads.fetch
            return runtime.poll(feed_ids=wanted, force=force, on_fetched=on_fetched)
    finally:
        parser.close()  # the runtime's close did, unless opening it failed
        if downloads is not None:
            downloads.close()


def _start_downloads(
    config: Config, wanted: Collection[str] | None, *, force: bool
) -> Prefetch | None:
    """This poll's downloads, begun in a forked child before the runtime is even imported.

    The child reads the feeds due and their validators from state.json (not
    locked, not the whole store: bot/store/tinydb/peek.py); the poll checks
    them against the store it opens meanwhile (bot/ingest/prefetch.py).
    """
    settings = config.settings
    if settings.database_url:
        return None  # the validators are in the database: read when it is open
    # What the child runs, imported here: this process needs it all anyway, and a
    # child would import it again (CPU a busy machine has none to spare).
    from datetime import UTC, datetime

    from bot.config.overrides import effective_config
    from bot.ingest.feedstate import select_due_feeds
    from bot.ingest.prefetch import Prefetch
    from bot.store.tinydb.peek import read_poll_state

    def plan() -> tuple[list[FeedConfig], dict[str, FeedState]]:
        overrides, states = read_poll_state(settings.data_dir)
        current = effective_config(config, overrides)
        now = datetime.now(UTC)
        feeds = select_due_feeds(current, states, now=now, feed_ids=wanted, force=force)
        return feeds, states

    return Prefetch.start(plan, settings)


def _one_shot_parser(config: Config) -> FeedParser:
    """What this poll parses with; made first, before the store is opened or a thread started.

    Workers forked from this process now (bot/ingest/forkparse.py), which
    parse on the other cores while this one fetches (with "auto", one per core
    but one: each worker imports the parser, 60 ms of CPU); where forking is
    not possible, small polls parse here (bot/ingest/inlinefirst.py).
    """
    from bot.ingest.parsepool import resolve_workers

    settings = config.settings
    workers = resolve_workers(settings.parse_workers)
    if settings.parse_workers == "auto":
        workers = max(1, workers - 1)  # one core is this process's, fetching
    if workers > 0:
        from bot.ingest.forkparse import ForkedParsePool

        pool = ForkedParsePool(workers, time_limit=settings.parse_timeout)
        if pool.forked:
            return pool
        pool.close()
    from bot.ingest.inlinefirst import InlineFirstParser

    return InlineFirstParser(workers, time_limit=settings.parse_timeout)


def _poll_on_terminal(
    config: Config, wanted: Collection[str] | None, *, force: bool
) -> list[PollReport]:
    downloads = _start_downloads(config, wanted, force=force)  # before any thread starts
    parser = _one_shot_parser(config)
    try:
        from bot.app.terminal import make_console, poll_progress, print_poll_table

        console = make_console()
        total = sum(1 for f in config.enabled_feeds if wanted is None or f.id in wanted)
        with poll_progress(console, total) as advance:
            reports = _poll(
                config,
                wanted,
                force=force,
                on_fetched=advance,
                parser=parser,
                downloads=downloads,
            )
    finally:
        parser.close()
        if downloads is not None:
            downloads.close()
    if reports:
        print_poll_table(console, reports)
    return reports


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app.service import run_service

    return run_service(load_args_config(args), port=args.port, host=args.host)


def cmd_console(args: argparse.Namespace) -> int:
    from bot.app.console import run_console
    from bot.app.questions import use_language_model
    from bot.app.runtime import Runtime

    with Runtime.open(load_args_config(args)) as runtime:
        use_language_model(runtime)
        run_console(runtime)
    return EXIT_OK


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.app.cli.inspect import dry_run_digest, no_digest_message

    if args.dry_run:
        return dry_run_digest(args)
    from bot.app.terminal import make_console, print_error, print_text
    from bot.slack.client import SlackClientConfigError, make_web_client
    from bot.slack.deliver import Deliverer

    config = load_args_config(args)
    console = make_console()
    try:
        # Before the data directory is touched: a missing token is the caller's to fix.
        poster = Deliverer(make_web_client(config.slack))
    except SlackClientConfigError as exc:
        raise UsageError(
            f"{exc}; set it in the environment, or use --dry-run to print the digest"
        ) from None
    from bot.app.runtime import Runtime

    with Runtime.open(config) as runtime:
        digest = runtime.digest_config(args.channel)
        if digest is None:
            raise UsageError(no_digest_message(config.path, args.channel, runtime.config))
        outcome = runtime.send_digest(digest, poster)
    if outcome.status == "failed":
        print_error(f"digest for {args.channel} not delivered: {outcome.error}")
        return EXIT_FAILED
    print_text(console, f"digest for {args.channel}: {outcome.status} ({outcome.items} items)")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.app.demo import run_demo
    from bot.app.terminal import make_console
    from bot.config.schema import load_config

    base = load_config(args.config)  # for its topics and settings; the feeds are replaced
    run_demo(base, make_console(), data_dir=args.data_dir)
    return EXIT_OK
