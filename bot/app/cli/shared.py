"""What every `briefbot` command shares: exit statuses and reading the configuration."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.config.model import Config
from bot.config.schema import load_config
from bot.models import replace

__all__ = [
    "EXIT_FAILED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "load_args_config",
    "load_reading_config",
]

#: 0 success, 1 the work failed (for `poll`: every feed failed), 2 bad usage or
#: an invalid configuration, 3 the data directory is in use by another process.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how the command was called: one line saying what to fix (exit 2)."""


def load_args_config(args: argparse.Namespace) -> Config:
    """feeds.yaml as `--config` says, with `--data-dir` applied."""
    config = load_config(args.config)
    if args.data_dir:
        config = replace(config, settings=replace(config.settings, data_dir=args.data_dir))
    return config


def load_reading_config(args: argparse.Namespace) -> Config:
    """Like `load_args_config`, for commands that only read the data directory.

    A directory that does not exist is an error here (a typo in `--data-dir`
    must not read as "nothing stored"); `poll` and `run` create it.
    """
    config = load_args_config(args)
    if config.settings.database_url:
        return config  # a missing database is the store's error, named without the password
    data_dir = Path(config.settings.data_dir)
    if not data_dir.is_dir():
        raise UsageError(
            f"no data directory at {data_dir}: check --data-dir or BRIEFBOT_DATA "
            "(`briefbot poll` or `briefbot run` creates it)"
        )
    return config
