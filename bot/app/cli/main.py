"""The `briefbot` parser and entry point: sub-commands, global options, exit statuses.

Exit status: 0 success, 1 the work failed (for `poll`: every feed failed),
2 bad usage or an invalid configuration, 3 the data directory is in use.

Start-up costs nothing a command does not use: this module imports only the
standard library, and each command is named by "module:function" (`_add`),
imported after parsing. `briefbot --help` or a usage error never loads the
runtime, httpx, Jinja2 or rich; `briefbot poll` never loads the search
engine or Slack. To register a command: one `_add(sub, name,
"bot.app.cli.<module>:cmd_<name>", help, example)` call and its options;
`tests/app/test_cli.py` checks that every name resolves.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Sequence

from bot import __version__

__all__ = ["build_parser", "main", "resolve_command", "tune_gc"]

Command = Callable[[argparse.Namespace], int]

# Where the commands live ("module:function" names, imported when run).
_INSPECT = "bot.app.cli.inspect"
_OPERATE = "bot.app.cli.operate"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="briefbot",
        description="A Slack briefing bot: watches feeds, briefs channels, answers /brief.",
        epilog="Example:\n  briefbot demo\n  briefbot --config feeds.yaml poll",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"briefbot {__version__}")
    _add_global_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_operating_commands(sub)
    _add_migrate(sub)
    _add_reading_commands(sub)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--config, --data-dir and -v: before the sub-command or after it.

    On a sub-command they default to SUPPRESS, so an option given before the
    sub-command is not reset by the sub-command's parser.
    """
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="feeds.yaml to use (default: $BRIEFBOT_CONFIG, else ./feeds.yaml, "
        "else the embedded defaults)",
        default=default,
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory (default: $BRIEFBOT_DATA or ./data)",
        default=default,
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log progress to stderr",
        default=False if top_level else argparse.SUPPRESS,
    )


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    func: str,
    help_text: str,
    example: str,
) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"Example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    _add_global_options(p, top_level=False)
    return p


def _add_operating_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "run",
        f"{_OPERATE}:cmd_run",
        "Run the service: scheduler + Slack app (Socket Mode when SLACK_APP_TOKEN is set, "
        "else HTTP mode on --port, path /slack/events).",
        "briefbot run --port 3000 --host 127.0.0.1",
    )
    p.add_argument("--port", type=int, default=3000, help="HTTP-mode port (default 3000)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="HTTP-mode address to listen on (default 127.0.0.1: behind a reverse proxy on "
        "the same machine; 0.0.0.0 for every interface, as in the container image)",
    )
    _add(
        sub,
        "console",
        f"{_OPERATE}:cmd_console",
        "Type /brief lines at a prompt; the same handlers as Slack answer. Needs no token.",
        "briefbot console",
    )
    p = _add(
        sub,
        "poll",
        f"{_OPERATE}:cmd_poll",
        "Poll every enabled feed once now, store new items, print per-feed results.",
        "briefbot poll --feed fr-bis",
    )
    p.add_argument("--feed", action="append", metavar="ID", help="only this feed (repeatable)")
    p.add_argument(
        "--due-only", action="store_true", help="only feeds whose next poll time has come"
    )
    p = _add(
        sub,
        "digest",
        f"{_OPERATE}:cmd_digest",
        "Build a channel's digest now and post it (or print it with --dry-run, which only "
        "reads and works while `briefbot run` is running).",
        "briefbot digest --channel C0123456789 --dry-run",
    )
    p.add_argument("--channel", required=True, metavar="C", help="the channel id of a digest")
    p.add_argument("--dry-run", action="store_true", help="print instead of posting")
    p.add_argument("--json", action="store_true", help="with --dry-run: the exact Slack payloads")
    _add(
        sub,
        "demo",
        f"{_OPERATE}:cmd_demo",
        "Run the pipeline offline on bundled recorded feeds served over loopback.",
        "briefbot demo",
    )


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "migrate",
        "bot.app.cli.migrate:cmd_migrate",
        "Create or update the PostgreSQL schema (BRIEFBOT_DATABASE_URL); with --from-data-dir, "
        "copy a data directory into the database (run again to resume; counts are checked).",
        "BRIEFBOT_DATABASE_URL=postgresql://briefbot@db/briefbot briefbot migrate "
        "--from-data-dir ./data",
    )
    p.add_argument(
        "--from-data-dir",
        metavar="DIR",
        help="a TinyDB data directory to copy in (stop `briefbot run` on it first)",
    )


def _add_reading_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "search",
        "bot.app.cli.search:cmd_search",
        "Search what the bot has seen, ranked, with the query language /brief uses "
        "(only reads: works while `briefbot run` is running).",
        "briefbot search '\"entity list\" since:30d'",
    )
    p.add_argument("query", nargs="+", help="a query, or plain words such as: what's new on IPEF")
    p.add_argument("--limit", type=_limit, default=10, help="results to show (default 10)")
    _add_export_options(p)
    p = _add(
        sub,
        "latest",
        f"{_INSPECT}:cmd_latest",
        "The newest stories, as /brief latest lists them (only reads: works while "
        "`briefbot run` is running).",
        "briefbot latest --feed fr-bis --limit 20 --csv > latest.csv",
    )
    p.add_argument("--feed", action="append", metavar="ID", help="only this feed (repeatable)")
    p.add_argument("--limit", type=_limit, default=10, help="stories to show (default 10)")
    _add_export_options(p)
    p = _add(
        sub,
        "status",
        f"{_INSPECT}:cmd_status",
        "Feed health (last success, failures, items stored, next poll), store counts and "
        "delivery problems (only reads: works while `briefbot run` is running).",
        "briefbot status",
    )
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    _add_chart_command(sub)
    _add(
        sub,
        "health",
        f"{_INSPECT}:cmd_health",
        "Whether `briefbot run` is working: its heartbeat is recent, Slack answers, feeds "
        "are being polled. Exit 0 healthy, 1 not (the container's health check).",
        "briefbot health",
    )
    p = _add(
        sub,
        "check-config",
        f"{_INSPECT}:cmd_check_config",
        "Validate feeds.yaml, warn about what will not work, and print the resolved "
        "settings, secrets redacted.",
        "briefbot check-config --config feeds.yaml --strict",
    )
    p.add_argument("--json", action="store_true", help="print only the resolved settings as JSON")
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when there are warnings (no digests, no admins, HTTP mode without "
        "a signing secret, a feed no digest shows)",
    )


def _add_chart_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "chart",
        "bot.app.cli.charts:cmd_chart",
        "Draw a chart as a PNG file: Entity List additions by destination, or a topic's "
        "items per week (only reads: works while `briefbot run` is running).",
        "briefbot chart entity-list --period 12m --out entity-list.png",
    )
    p.add_argument("kind", metavar="KIND", help="entity-list, or a topic id")
    p.add_argument("--out", required=True, metavar="FILE.png", help="the PNG file to write")
    p.add_argument(
        "--period",
        default=None,
        metavar="PERIOD",
        help="90d (the default: by week), 12m (by month), or any Nd, Nw, Nm up to two years",
    )


def _add_export_options(parser: argparse.ArgumentParser) -> None:
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument(
        "--json", dest="format", action="store_const", const="json", help="print a JSON array"
    )
    formats.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help="print CSV with a header"
    )


def _limit(text: str) -> int:
    from bot.find.search.results import MAX_LIMIT

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def resolve_command(name: str) -> Command:
    """The function a "module:function" name gives, imported now."""
    module, _, function = name.partition(":")
    func: Command = getattr(importlib.import_module(module), function)
    return func


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` names (default: the process's arguments); its exit status.

    Called without `argv` (the `briefbot` program), the process ends as soon
    as the command has returned and its output is flushed (`_exit_now`).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2  # EXIT_USAGE, without importing bot.app.cli.shared
    if argv is None:
        tune_gc(args.command)
    status = _run(args)
    if argv is None:
        _exit_now(status)
    return status


#: The commands that run on (the service, the console): the interpreter's own collector.
LONG_LIVED = frozenset({"run", "console"})
#: A one-shot command's young generation: collected every 10,000 allocations, not 700.
ONE_SHOT_GC_THRESHOLD = (10_000, 10, 10)


def tune_gc(command: str) -> None:
    """Collect cycles less often in a one-shot command (not in `run` or `console`).

    With the default thresholds a `briefbot poll` ran about 130 collections,
    most of them during its imports, which only create objects that live as
    long as the process (40-50 ms of CPU in all, a generation-2 pass over every
    module among them). Cyclic garbage is still collected, only in larger
    batches; the process ends soon anyway. Processes it forks inherit this.
    """
    if command not in LONG_LIVED:
        gc.set_threshold(*ONE_SHOT_GC_THRESHOLD)


def _run(args: argparse.Namespace) -> int:
    # Imported after parsing: `--help` and usage errors load none of this.
    import logging

    from bot.app.cli.shared import EXIT_FAILED, EXIT_LOCKED, EXIT_USAGE, UsageError
    from bot.config.model import ConfigError
    from bot.config.redact import install_log_redaction
    from bot.store.ports import StoreError, StoreLockedError, StoreReadOnlyError

    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_redaction()  # feed URLs in any library's records lose credentials
    try:
        result: int = resolve_command(args.func)(args)
    except (ConfigError, UsageError) as exc:
        return _error(str(exc), EXIT_USAGE)
    except (StoreLockedError, StoreReadOnlyError) as exc:
        return _error(str(exc), EXIT_LOCKED)
    except StoreError as exc:
        return _error(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    return result


def _error(message: str, status: int) -> int:
    from bot.app.terminal import print_error

    print_error(message)
    return status


def _exit_now(status: int) -> None:
    """End the process now, skipping the interpreter's teardown (0.1 s and more), if safe.

    By now every command has closed what it opened: the store has committed
    and released its lock, the parse workers are stopped, the output is
    written. What remains is freeing memory object by object, which the
    operating system does at once. Not when a thread that is not a daemon
    still runs (a normal exit would wait for it), nor when flushing fails
    (a closed pipe: the normal exit reports it).
    """
    import logging
    import os
    import threading

    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        return
    try:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status)
