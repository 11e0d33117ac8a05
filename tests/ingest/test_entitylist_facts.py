"""Entity List facts as stored and shown (bot/ingest/entitylist.py): the summary line,
item extras in and out, and annotating items.
"""

from __future__ import annotations

import json

import pytest

from bot.ingest.entitylist import EXTRAS_KEY, EntityListFacts, annotate_item
from bot.models import Item
from tests.ingest.bisabstracts import BIS, DOCUMENTS


@pytest.mark.parametrize(
    ("facts", "line"),
    [
        (
            EntityListFacts(
                "additions", 36, destinations=(("China", 30), ("Japan", 1), ("Singapore", 5))
            ),
            "36 entities added: China 30, Japan 1, Singapore 5",
        ),
        (EntityListFacts("removals", removed=5), "5 removed"),
        (EntityListFacts("additions", 1, destinations=(("Burma", 1),)), "1 entity added: Burma 1"),
        (EntityListFacts("additions and revisions", 70, 4), "70 entities added; 4 revised"),
        (
            EntityListFacts("additions, revisions and removals", 2, 2, 1),
            "2 entities added; 2 revised; 1 removed",
        ),
        (
            EntityListFacts(
                "additions", 10, destinations=tuple((f"Place{c}", 1) for c in "ABCDEFGHIJ")
            ),
            "10 entities added: PlaceA 1, PlaceB 1, PlaceC 1, PlaceD 1, PlaceE 1, PlaceF 1, "
            "PlaceG 1, PlaceH 1 and 2 more",
        ),
        (EntityListFacts("revisions and removals"), "Entity List revisions and removals"),
        # BIS's figures per destination count entries: the line names them, so they add up.
        (
            EntityListFacts("additions", 2, destinations=(("Canada", 1), ("China", 1)), entries=2),
            "2 entities added: Canada 1, China 1",
        ),
        (
            EntityListFacts(
                "additions", 2, destinations=(("Canada", 1), ("China", 1), ("Japan", 1)), entries=3
            ),
            "2 entities added, 3 entries: Canada 1, China 1, Japan 1",
        ),
        (EntityListFacts("additions", entries=1), "1 entry added"),
        (EntityListFacts("additions", 36, entries=41), "36 entities added, 41 entries"),
        # No count of entries stated, but the figures count more than the entities.
        (
            EntityListFacts("additions", 5, destinations=(("China", 3), ("Russia", 3))),
            "5 entities added, 6 entries: China 3, Russia 3",
        ),
    ],
)
def test_summary_line(facts: EntityListFacts, line: str) -> None:
    assert facts.summary() == line


def test_extras_survive_a_json_round_trip() -> None:
    facts = EntityListFacts("additions and revisions", 70, 4, None, (("China", 42), ("Iran", 2)))
    stored = json.loads(json.dumps(facts.as_extras()))
    assert stored == {
        "action": "additions and revisions",
        "added": 70,
        "entries": None,
        "revised": 4,
        "removed": None,
        "destinations": [["China", 42], ["Iran", 2]],
        "summary": "70 entities added: China 42, Iran 2; 4 revised",
    }
    assert EntityListFacts.from_extras(stored) == facts
    counted = EntityListFacts("additions", 2, entries=7)
    assert EntityListFacts.from_extras(json.loads(json.dumps(counted.as_extras()))) == counted


def test_extras_stored_before_entries_were_counted_still_read() -> None:
    stored = {"action": "additions", "added": 3, "revised": None, "removed": None}
    assert EntityListFacts.from_extras(stored) == EntityListFacts("additions", 3)


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ("additions", "'additions'"),
        ({"added": 3}, "{'added': 3}"),
        ({"action": "additions", "added": "3"}, "'3'"),
        ({"action": "additions", "added": -1}, "-1"),
        ({"action": "additions", "removed": True}, "True"),
        ({"action": "additions", "entries": 1.5}, "1.5"),
        ({"action": "additions", "destinations": [["China"]]}, "['China']"),
        ({"action": "additions", "destinations": [["China", "30"]]}, "['China', '30']"),
        ({"action": "additions", "destinations": "China"}, "'China'"),
    ],
)
def test_bad_extras_are_refused_with_the_offending_value(data: object, shown: str) -> None:
    with pytest.raises(ValueError, match="entity_list extras") as error:
        EntityListFacts.from_extras(data)
    assert shown in str(error.value)


def test_annotate_item_keeps_facts_and_other_extras() -> None:
    doc = next(d for d in DOCUMENTS if d["document_number"] == "2025-00480")
    item = Item(
        id="2025-00480",
        feed_id="fr-bis",
        title=doc["title"],
        summary=doc["abstract"],
        authors=BIS,
        extras={"also_in": ["fr-all"]},
    )
    annotated = annotate_item(item)
    assert annotated.extras == {
        "also_in": ["fr-all"],
        EXTRAS_KEY: {
            "action": "additions",
            "added": 16,
            "entries": None,
            "revised": None,
            "removed": None,
            "destinations": [["China", 14], ["Singapore", 2]],
            "summary": "16 entities added: China 14, Singapore 2",
        },
    }
    assert (annotated.id, annotated.title, annotated.summary) == (item.id, item.title, item.summary)
    assert item.extras == {"also_in": ["fr-all"]}  # the input item is untouched


REUTERS = "China adds 14 EU entities to export control list over Russia-related sanctions"


def test_annotate_item_returns_other_items_unchanged() -> None:
    item = Item(
        id="x",
        feed_id="reuters",
        title=f"{REUTERS} - Reuters",
        summary=f"{REUTERS}  Reuters",
    )
    assert annotate_item(item) is item
