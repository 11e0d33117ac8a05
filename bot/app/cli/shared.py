"""What every `briefbot` command shares: exit statuses and reading the configuration."""

from __future__ import annotations

import argparse

from bot.config.model import Config
from bot.config.schema import load_config
from bot.models import replace

__all__ = ["EXIT_FAILED", "EXIT_LOCKED", "EXIT_OK", "EXIT_USAGE", "load_args_config"]

#: 0 success, 1 the work failed (for `poll`: every feed failed), 2 bad usage or
#: an invalid configuration, 3 the data directory is in use by another process.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def load_args_config(args: argparse.Namespace) -> Config:
    """feeds.yaml as `--config` says, with `--data-dir` applied."""
    config = load_config(args.config)
    if args.data_dir:
        config = replace(config, settings=replace(config.settings, data_dir=args.data_dir))
    return config
