"""Search results and item lists for machines: `--json` and `--csv` of `search` and `latest`.

One row per item with the same fields in both formats (rank, published, feed,
title, link, snippet, also_in), so a spreadsheet and a script see the same
thing. Times are ISO 8601 in UTC; `also_in` is a list in JSON and a
`; `-joined cell in CSV.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from bot.find.search.results import SearchHit
from bot.models import Item

__all__ = ["FIELDS", "hit_rows", "item_rows", "write_rows"]

FIELDS = ("rank", "published", "feed", "title", "link", "snippet", "also_in")


def item_rows(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [_row(rank, item, "", ()) for rank, item in enumerate(items, 1)]


def hit_rows(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    return [
        _row(rank, hit.item, hit.snippet, hit.also_in or ()) for rank, hit in enumerate(hits, 1)
    ]


def write_rows(rows: Sequence[dict[str, Any]], fmt: str, out: TextIO | None = None) -> None:
    """`rows` as a JSON array or as CSV with a header line, on `out` (stdout)."""
    stream = out if out is not None else sys.stdout
    if fmt == "json":
        json.dump(list(rows), stream, ensure_ascii=False, indent=2)
        stream.write("\n")
        return
    writer = csv.DictWriter(stream, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "also_in": "; ".join(row["also_in"])})


def _row(rank: int, item: Item, snippet: str, also_in: Sequence[str]) -> dict[str, Any]:
    return {
        "rank": rank,
        "published": item.published.isoformat() if item.published else None,
        "feed": item.feed_id,
        "title": item.title,
        "link": item.link,
        "snippet": snippet,
        "also_in": list(also_in),
    }
