"""parse_feed gives every recorded feed the same items as before, keys first (issue 17 part 2).

A faster parse must not change what a user sees: an entry whose identity keys
changed would be alerted again after the upgrade, and a changed title, link or
date would show in Slack. `parse_golden.json` holds, for each recorded feed
(the fixtures, the demo feeds and, when present, the shared corpus), parsed
without and with a base URL, a digest of the items' keys (id, second key,
release 0.1's keys) and one of everything else shown (title, summary, link,
date, authors, tags, GUID, extras), with the feed title, warning and error.
It was written by main at 90e9024, before the parse was made faster:

    PYTHONPATH=<a checkout of that code> python tests/ingest/test_parse_golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ingest.parse import parse_feed
from bot.models import ParseResult

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("parse_golden.json")
CORPUS = ROOT.parent / "shared" / "feeds-corpus"
FETCHED_AT = datetime(2026, 11, 20, tzinfo=UTC)
BASE_URL = "https://feeds.example.org/news/feed.xml"


def _sources() -> dict[str, Path]:
    """Every recorded feed, by a name relative to its folder (corpus files only when present)."""
    folders = {
        "fixtures": ROOT / "tests" / "fixtures" / "feeds",
        "demo": ROOT / "bot" / "demo_feeds",
        **{f"corpus/{name}": CORPUS / name for name in ("policy", "general", "tricky")},
    }
    found: dict[str, Path] = {}
    for label, folder in folders.items():
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.suffix != ".md":
                    found[f"{label}/{path.name}"] = path
    return found


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _summary(result: ParseResult) -> dict[str, object]:
    """What the golden file records of one parse."""
    keys = [(item.id, item.link_title_key, list(item.former_keys)) for item in result.items]
    shown = [
        [
            item.title,
            item.summary,
            item.link,
            item.published.isoformat() if item.published else None,
            list(item.authors),
            list(item.tags),
            item.guid,
            dict(item.extras),
        ]
        for item in result.items
    ]
    return {
        "count": len(result.items),
        "keys": _digest(keys),
        "shown": _digest(shown),
        "feed_title": result.feed_title,
        "warning": result.warning,
        "error": result.error,
    }


def _parse(path: Path, url: str) -> dict[str, object]:
    body = path.read_bytes()
    return _summary(parse_feed("golden", body, url=url, fetched_at=FETCHED_AT, time_limit=None))


def _cases() -> list[tuple[str, Path, str]]:
    return [
        (f"{name} {label}", path, url)
        for name, path in _sources().items()
        for label, url in (("no-url", ""), ("url", BASE_URL))
    ]


def _golden() -> dict[str, dict[str, object]]:
    recorded: dict[str, dict[str, object]] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return recorded


@pytest.mark.parametrize(("case", "path", "url"), [pytest.param(*c, id=c[0]) for c in _cases()])
def test_items_are_those_parsed_before(case: str, path: Path, url: str) -> None:
    expected = _golden().get(case)
    if expected is None:
        pytest.fail(f"{case}: not in {GOLDEN.name} (a new feed file: record it with --write)")
    got = _parse(path, url)
    assert got["count"] == expected["count"], f"{case}: a different number of items"
    assert got["keys"] == expected["keys"], f"{case}: identity keys changed (would alert again)"
    assert got == expected, f"{case}: what a user is shown changed"


def test_the_golden_file_covers_the_fixtures() -> None:
    recorded = _golden()
    fixtures = [name for name in recorded if name.startswith("fixtures/")]
    assert len(fixtures) >= 40
    assert sum(int(str(recorded[name]["count"])) for name in fixtures) > 100


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.write_text(
        json.dumps({case: _parse(path, url) for case, path, url in _cases()}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"wrote {GOLDEN}")
