"""The commands that only read: check-config, latest, status, digest --dry-run (search.py: search).

What only one command uses is imported in it (see main.py: start-up costs
nothing a command does not use).

Each opens the data directory read-only (`Runtime.open(..., read_only=True)`):
no lock is taken, nothing is written, and a running `briefbot run` is not
disturbed (see bot/store/tinydb/store.py for why the snapshot is consistent).
"""

from __future__ import annotations

import argparse

from bot.app.cli.export import item_rows, write_rows
from bot.app.cli.shared import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    load_args_config,
    load_reading_config,
)
from bot.app.runtime import Runtime
from bot.app.terminal import (
    make_console,
    print_error,
    print_items,
    print_json,
    print_slack_messages,
    print_status,
    print_text,
    print_warning,
    status_json,
)
from bot.config.model import Config
from bot.models import SlackMessage

__all__ = [
    "cmd_check_config",
    "cmd_health",
    "cmd_latest",
    "cmd_status",
    "dry_run_digest",
    "no_digest_message",
]


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.config.describe import describe_config
    from bot.config.warnings import config_warnings
    from bot.render.renderer import Renderer

    config = load_args_config(args)
    console = make_console()
    problems = Renderer(config.settings.templates_dir).check()
    if problems:
        print_error(f"{config.path}: templates have problems:\n" + "\n".join(problems))
        return EXIT_USAGE
    warnings = config_warnings(config)
    for warning in warnings:
        # On stderr: `--json` keeps stdout for the settings alone.
        print_warning(f"{config.path}: warning: {warning}")
    if args.json:
        print_json(console, describe_config(config))
    else:
        print_text(console, f"{config.path}: valid", style="bold green")
        print_json(console, describe_config(config))
    return EXIT_FAILED if warnings and args.strict else EXIT_OK


def cmd_latest(args: argparse.Namespace) -> int:
    """The newest stories, as `/brief latest` lists them."""
    config = load_reading_config(args)
    console = make_console()
    feed_ids = set(args.feed) if args.feed else None
    unknown = sorted((feed_ids or set()) - {f.id for f in config.feeds})
    if unknown:
        raise UsageError(
            f"no feed {', '.join(unknown)}; the feeds are "
            + ", ".join(sorted(f.id for f in config.feeds))
        )
    with Runtime.open(config, read_only=True) as runtime:
        items = runtime.latest(feed_ids=feed_ids, limit=args.limit)
        names = runtime.feed_names()
    if args.format:
        write_rows(item_rows(items), args.format)
        return EXIT_OK
    title = f"{len(items)} newest stor{'y' if len(items) == 1 else 'ies'}"
    print_items(console, items, title, feed_names=names)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    """Feed health and store counts: what `/brief status` shows, in the terminal."""
    config = load_reading_config(args)
    console = make_console()
    with Runtime.open(config, read_only=True) as runtime:
        rows = runtime.feed_status_rows()
        stats = runtime.store.stats()
        problems = runtime.delivery_errors()
        pending = runtime.store.alerts.pending_count()
    if args.json:
        print_json(console, status_json(rows, stats, problems, pending))
    else:
        print_status(console, rows, stats, problems, pending)
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    """Whether `briefbot run` is working (exit 0) or not (exit 1): heartbeat, Slack, polls."""
    from bot.app.health import assess_replicas

    config = load_reading_config(args)
    console = make_console()
    with Runtime.open(config, read_only=True) as runtime:
        report = assess_replicas(
            runtime.store.heartbeats(),
            runtime.store.feed_states.all(),
            runtime.config,
            runtime.clock(),
        )
    if report.healthy:
        print_text(console, report.text.rstrip("\n"))
        return EXIT_OK
    # On stderr: a health check sends stdout to /dev/null but shows stderr.
    print_warning(report.text.rstrip("\n"))
    return EXIT_FAILED


def dry_run_digest(args: argparse.Namespace) -> int:
    """The digest a channel would get now, printed (or its Slack payloads as JSON)."""
    config = load_reading_config(args)
    console = make_console()
    with Runtime.open(config, read_only=True) as runtime:
        digest = runtime.digest_config(args.channel)
        if digest is None:
            raise UsageError(no_digest_message(config.path, args.channel, runtime.config))
        _view, messages = runtime.build_digest(digest)
    if args.json:
        print_json(console, [_payload(args.channel, m) for m in messages])
    elif not messages:
        print_text(console, f"Nothing new for {args.channel} since its last digest.")
    else:
        print_slack_messages(console, messages)
    return EXIT_OK


def no_digest_message(path: str, channel: str, config: Config) -> str:
    """Channel `channel` has no digest: say so, and list the ones configured."""
    configured = [f"{d.channel} ({d.at.strftime('%H:%M')} {d.timezone})" for d in config.digests]
    listed = ", ".join(configured) if configured else "none"
    return (
        f"{path}: no digest for channel {channel}; configured: {listed}. "
        "Add it under `digests:` (or with /brief schedule in the channel)."
    )


def _payload(channel: str, message: SlackMessage) -> dict[str, object]:
    """The chat.postMessage arguments the bot sends for `message`."""
    from bot.render.renderer import DIGEST_POST_OPTIONS

    payload: dict[str, object] = {"channel": channel, "text": message.text}
    payload["blocks"] = [dict(b) for b in message.blocks]
    payload.update(DIGEST_POST_OPTIONS)
    if message.in_thread:
        payload["thread_ts"] = "<ts of the first message>"
    return payload
