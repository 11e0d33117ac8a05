"""`upcoming` (bot/brief/deadlines.py) over items holding the facts of recorded documents."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from bot.brief.deadlines import upcoming
from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts
from bot.models import Item

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fedreg"


def _documents() -> dict[str, dict[str, Any]]:
    data = json.loads((FIXTURES / "documents_2024-01_six.json").read_text())
    return {doc["document_number"]: doc for doc in data["results"]}


def _item(number: str, seq: int, feed: str = "fr-bis", **dates: str) -> Item:
    doc = {**_documents()[number], **dates}
    facts = FederalRegisterFacts.from_api(doc)
    return Item(
        id=f"{feed}-{number}",
        feed_id=feed,
        title=facts.title,
        link=facts.html_url,
        seq=seq,
        extras={EXTRAS_KEY: facts.as_extras()},
    )


def test_soonest_first_comments_before_rules_on_the_same_day() -> None:
    items = [
        _item("2023-27783", 1),  # Rule, effective 2024-02-01
        _item("2023-27019", 2),  # Proposed Rule, comments close 2024-03-04
        _item("2023-28483", 3, effective_on="2024-01-20", comments_close_on="2024-02-01"),
    ]
    found = upcoming(items, date(2024, 1, 1), date(2024, 3, 31))
    assert [(d.on.isoformat(), d.kind, d.document_number) for d in found] == [
        ("2024-01-20", "effective", "2023-28483"),
        ("2024-02-01", "comments", "2023-28483"),
        ("2024-02-01", "effective", "2023-27783"),
        ("2024-03-04", "comments", "2023-27019"),
    ]
    assert found[0].label == "takes effect" and found[1].label == "comments close"


def test_window_is_inclusive_and_kinds_filter() -> None:
    items = [_item("2023-27783", 1), _item("2023-27019", 2)]
    assert [d.kind for d in upcoming(items, date(2024, 2, 1), date(2024, 3, 4))] == [
        "effective",
        "comments",
    ]
    assert upcoming(items, date(2024, 2, 2), date(2024, 3, 3)) == []
    only = upcoming(items, date(2024, 1, 1), date(2024, 12, 31), kinds=["comments"])
    assert [d.document_number for d in only] == ["2023-27019"]


def test_one_document_from_two_feeds_is_listed_once_and_corrections_not_at_all() -> None:
    items = [
        _item("2023-27783", 1, "fr-bis"),
        _item("2023-27783", 2, "fr-entity-list"),
        _item("C1-2023-27742", 3, effective_on="2024-02-01"),
        Item(id="plain", feed_id="news", title="No facts", seq=4),
        Item(id="bad", feed_id="news", title="Damaged", seq=5, extras={EXTRAS_KEY: "x"}),
    ]
    found = upcoming(items, date(2024, 1, 1), date(2024, 12, 31))
    assert [(d.document_number, d.item.feed_id) for d in found] == [("2023-27783", "fr-bis")]
