"""`briefbot search`: from the search index file alone when it is level with the store.

Opening the store reads every item shard (0.7 s and more at 100,000 items);
the index file (`search.sqlite`) holds what a search shows, so while it is
level with the store's files the command answers from it without opening
the store (bot/app/searchindex.py, `quick_search`). Otherwise it opens the
store read-only, as `status` does, and the search catches the file up and
records it level for the next one. Imports what the quick path needs first;
the runtime only on the other path.
"""

from __future__ import annotations

import argparse
import shlex

from bot.app.cli.shared import EXIT_OK, EXIT_USAGE, load_reading_config
from bot.app.searchindex import data_stamp, level_search, quick_search
from bot.config.model import Config
from bot.find.query.syntax import QueryError
from bot.find.search.results import MAX_LIMIT, SearchResults
from bot.models import UTC

__all__ = ["cmd_search"]


def cmd_search(args: argparse.Namespace) -> int:
    from datetime import datetime

    config = load_reading_config(args)
    text = " ".join(args.query)
    stamp = data_stamp(config)  # before anything is read: see level_search
    try:
        found = quick_search(config, text, limit=args.limit, now=datetime.now(UTC), stamp=stamp)
        if found is None:
            found = _through_the_store(config, text, args.limit, stamp)
    except QueryError as exc:
        from bot.app.terminal import print_error

        print_error(f"query error: {exc}")
        return EXIT_USAGE
    results, names = found
    if args.format:
        from bot.app.cli.export import hit_rows, write_rows

        write_rows(hit_rows(results.hits), args.format)
        return EXIT_OK
    from bot.app.terminal import make_console, print_search_results

    hint = f"briefbot search {shlex.quote(text)} --limit {min(results.total, MAX_LIMIT)}"
    print_search_results(
        make_console(), results.hits, results.total, text, more_hint=hint, feed_names=names
    )
    return EXIT_OK


def _through_the_store(
    config: Config, text: str, limit: int, stamp: str | None
) -> tuple[SearchResults, dict[str, str]]:
    from bot.app.runtime import Runtime

    with Runtime.open(config, read_only=True) as runtime:
        names = runtime.feed_names()
        results = runtime.search(text, limit=limit)
        level_search(runtime.search_index, results, stamp)
    return results, names
