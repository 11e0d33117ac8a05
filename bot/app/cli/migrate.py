"""`briefbot migrate`: the PostgreSQL schema brought up to date, a data directory copied in.

The database is BRIEFBOT_DATABASE_URL (or `settings.database_url`). The
schema migrates at every start too; this command does it ahead of a rollout
and says what it applied. With `--from-data-dir DIR` it then copies a TinyDB
data directory in (bot/store/transfer.py): run it again after an interruption,
it resumes. The counts are printed and checked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.app.cli.shared import EXIT_OK, UsageError, load_args_config
from bot.app.storage import describe_store
from bot.app.terminal import make_console, print_text
from bot.store.postgres.store import PgStore
from bot.store.transfer import copy_data_dir

__all__ = ["cmd_migrate"]


def cmd_migrate(args: argparse.Namespace) -> int:
    config = load_args_config(args)
    settings = config.settings
    if not settings.database_url:
        raise UsageError(
            "briefbot migrate needs a database: set BRIEFBOT_DATABASE_URL "
            "(postgresql://user@host/dbname) or settings.database_url"
        )
    console = make_console()
    where = describe_store(settings)
    with PgStore.open(settings.database_url, retention_days=settings.retention_days) as store:
        applied = ", ".join(store.migrated) or "none, it was up to date"
        print_text(console, f"{where}: migrations applied: {applied}")
        if args.from_data_dir:
            report = copy_data_dir(Path(args.from_data_dir), store)
            print_text(console, f"copied {args.from_data_dir} into {where}:")
            for line in report.lines():
                print_text(console, f"  {line}")
            print_text(console, "counts checked: every item, tombstone and record is there")
    return EXIT_OK
