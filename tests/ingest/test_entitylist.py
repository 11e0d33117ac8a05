"""Entity List facts read from real BIS Federal Register titles and abstracts.

The module under test is bot/ingest/entitylist.py.

The expected values (tests/ingest/bisabstracts.py and below) were written by
reading each abstract in tests/fixtures/entitylist/real_abstracts.json, not by
running the code.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.entitylist import (
    MAX_TEXT,
    EntityListFacts,
    extract_entity_list,
    is_entity_list_title,
)
from tests.ingest.bisabstracts import BIS, DOCUMENTS, ENTRIES, EXPECTED, UAE


def documents(kind: str) -> list[Any]:
    return [
        pytest.param(doc, id=doc["document_number"] or doc["title"][:40])
        for doc in DOCUMENTS
        if doc["kind"] == kind
    ]


def authors_of(doc: dict[str, Any]) -> tuple[str, ...]:
    return (doc["agency"],) if doc["agency"] else ()


def test_fixture_has_a_dozen_real_abstracts_each_with_an_expectation() -> None:
    numbers = {doc["document_number"] for doc in DOCUMENTS if doc["kind"] == "entity-list"}
    assert len(numbers) >= 12
    assert numbers == set(EXPECTED)


@pytest.mark.parametrize("doc", documents("entity-list"))
def test_real_abstract_yields_the_counts_and_destinations_it_states(doc: dict[str, Any]) -> None:
    facts = extract_entity_list(doc["title"], doc["abstract"], authors=authors_of(doc))
    assert facts is not None
    action, added, revised, removed, destinations = EXPECTED[doc["document_number"]]
    got = (facts.action, facts.added, facts.revised, facts.removed, list(facts.destinations))
    assert got == (action, added, revised, removed, destinations)
    assert facts.entries == ENTRIES.get(doc["document_number"])
    assert is_entity_list_title(doc["title"])


@pytest.mark.parametrize("doc", documents("entity-list"))
def test_real_abstract_line_adds_up(doc: dict[str, Any]) -> None:
    """The line's figures per destination add up to the number it names before them."""
    facts = extract_entity_list(doc["title"], doc["abstract"], authors=authors_of(doc))
    assert facts is not None
    line = facts.summary()
    head, _, listed = line.split(";")[0].partition(": ")
    figures = [int(n) for n in re.findall(r" (\d+)(?:,|$)", listed)]
    if not figures or " more" in listed:
        return  # no figures, or some not shown
    total = int(re.findall(r"(\d+) entr", head)[0] if "entr" in head else head.split()[0])
    assert sum(figures) == total, line


@pytest.mark.parametrize(
    ("number", "line"),
    [
        (
            "2024-03674",
            "2 entities added, 7 entries: Canada 1, China 1, India 1, Japan 1, Malaysia 1, "
            "Sweden 1, United Arab Emirates 1; 2 revised; 1 removed",
        ),
        ("2024-07760", "11 entries added: China 6, Russia 3, United Arab Emirates 2; 1 revised"),
        ("2025-00704", "11 entities added: China 11; 1 revised"),  # 11 entities, 11 entries
        ("2022-14069", "36 entities added, 41 entries; 12 revised; 2 removed"),
        ("2025-00480", "16 entities added: China 14, Singapore 2"),
    ],
)
def test_real_abstract_line_says_entries_where_the_rule_counts_them(number: str, line: str) -> None:
    doc = next(d for d in DOCUMENTS if d["document_number"] == number)
    facts = extract_entity_list(doc["title"], doc["abstract"], authors=authors_of(doc))
    assert facts is not None
    assert facts.summary() == line


@pytest.mark.parametrize("doc", documents("near-miss"))
def test_real_near_miss_yields_nothing(doc: dict[str, Any]) -> None:
    assert extract_entity_list(doc["title"], doc["abstract"], authors=authors_of(doc)) is None
    assert extract_entity_list(doc["title"], doc["abstract"], feed_id="fr-bis") is None
    assert not is_entity_list_title(doc["title"])


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Additions to the Entity List", True),
        ("Entity List Additions", True),
        ("Revisions to the Entity List", True),
        ("Additions and Revisions of Entities to the Entity List", True),
        (
            "Additions of Entities, Revisions of Entries, and Removal of an Entity From the "
            "Entity List",
            True,
        ),
        ("Removal of Certain Entities From the Entity List", True),
        ("Entity List Additions; Revision of Existing Entries on the Entity List", True),
        ("ADDITIONS TO THE ENTITY LIST", True),
        ("additions to the entity-list", True),
        ("  Additions   to the\n Entity List ", True),
        ("Revisions to the Unverified List", False),
        ("Addition of Entities to the Military End-User List", False),
        ("Notice Regarding the Uyghur Forced Labor Prevention Act Entity List", False),
        ("China adds 14 EU entities to export control list over Russia-related sanctions", False),
        ("Responds to U.S. Addition of Chinese Entities to Export Control Entity List", False),
        ("The Entity List", False),
        ("Entity Listing Requirements; Additions", False),
        ("", False),
    ],
)
def test_title_is_about_entity_list_changes(title: str, expected: bool) -> None:
    assert is_entity_list_title(title) is expected


@pytest.mark.parametrize(
    ("title", "action"),
    [
        ("Removal of Certain Entities From the Entity List", "removals"),
        ("Entity List Additions", "additions"),
        (
            "Entity List Additions; Revision of Existing Entries on the Entity List",
            "additions and revisions",
        ),
        (
            "Additions of Entities, Revisions of Entries, and Removal of an Entity From the "
            "Entity List",
            "additions, revisions and removals",
        ),
        ("Addition of an Entity to the Entity List; Removals From the MEU List", "additions"),
    ],
)
def test_title_without_counts_still_gives_the_action(title: str, action: str) -> None:
    facts = extract_entity_list(title, "", authors=BIS)
    assert facts == EntityListFacts(action=action)
    assert facts.summary() == f"Entity List {action}"


SENTENCE = "BIS amends the Export Administration Regulations (EAR) by {} to the Entity List."


@pytest.mark.parametrize(
    ("phrase", "field", "value"),
    [
        ("adding one entity", "added", 1),
        ("adding nine entities", "added", 9),
        ("adding ten entities", "added", 10),
        ("adding eleven entities", "added", 11),
        ("adding nineteen entities", "added", 19),
        ("adding twenty entities", "added", 20),
        ("adding twenty-one entities", "added", 21),
        ("adding thirty-six entities", "added", 36),
        ("adding Thirty-Six entities", "added", 36),
        ("adding thirty six entities", "added", 36),
        ("adding forty-two entities", "added", 42),
        ("adding seventy-seven entities", "added", 77),
        ("adding ninety-nine entities", "added", 99),
        ("adding a single entity", "added", 1),
        ("adding an additional entity", "added", 1),
        ("adding 36 entities", "added", 36),
        ("adding 140 entries", "entries", 140),
        ("adding thirty-three (33) persons", "added", 33),
        ("adds 11 entries", "entries", 11),
        ("adding two entities under seven entries", "added", 2),
        ("revising one existing entry", "revised", 1),
        ("modifying 10 existing entries", "revised", 10),
        ("removing two entities", "removed", 2),
        ("removing a total of 35 entities", "removed", 35),
    ],
)
def test_count_phrases_and_number_words(phrase: str, field: str, value: int) -> None:
    facts = extract_entity_list(
        "Revisions to the Entity List", SENTENCE.format(phrase), authors=BIS
    )
    assert facts is not None
    counts = {
        "added": facts.added,
        "entries": facts.entries,
        "revised": facts.revised,
        "removed": facts.removed,
    }
    expected = {key: value if key == field else None for key in counts}
    if "under seven entries" in phrase:
        expected["entries"] = 7
    assert counts == expected


@pytest.mark.parametrize(
    "phrase",
    [
        "adding several entities",
        "adding the entities",
        "adding hundreds of entities",
        "adding 36 addresses",
    ],
)
def test_phrases_without_a_number_of_entities_give_no_count(phrase: str) -> None:
    facts = extract_entity_list(
        "Additions to the Entity List", SENTENCE.format(phrase), authors=BIS
    )
    assert facts == EntityListFacts(action="additions")


@pytest.mark.parametrize(
    ("abstract", "destinations"),
    [
        (
            "BIS is adding 33 entities under the destinations of China, People's Republic of "
            "(China) (30), Japan (1), and Singapore (2).",
            [("China", 30), ("Japan", 1), ("Singapore", 2)],
        ),
        ("BIS is adding five entities in China (5).", [("China", 5)]),
        ("BIS is adding 12 entities under Russia (12).", [("Russia", 12)]),
        (
            "BIS is adding 24 entities under the destinations of Hong Kong (3), Iran (4), "
            "Pakistan (1), Russia (12), Taiwan (1), and the United Arab Emirates (UAE) (2).",
            [
                ("Hong Kong", 3),
                ("Iran", 4),
                ("Pakistan", 1),
                ("Russia", 12),
                ("Taiwan", 1),
                (UAE, 2),
            ],
        ),
        (
            "BIS is adding 3 entities under the destination of Korea, Republic of (3).",
            [("Republic of Korea", 3)],
        ),
        # Federal Register quirks: RSS double escaping, SGML letters, curly apostrophes, tags.
        (
            "BIS is adding 14 entities under the destination of China, People&#39;s Republic of "
            "(China) (11) and T[uuml]rkiye (3).",
            [("China", 11), ("Türkiye", 3)],
        ),
        (
            "<p>BIS is adding 2 entities under the destination of the People\u2019s Republic of "
            "China (China) (2).</p>",
            [("China", 2)],
        ),
        ("BIS is adding 36 entities under 14 destinations to the Entity List.", []),
        ("BIS is adding 2 entities under the destinations of China and Russia.", []),
        (
            "BIS is adding seven entities under the destination of Burma. These seven (7) "
            "entities are listed.",
            [("Burma", 7)],
        ),
        (
            "BIS is adding 2 entities to the Entity List. This rule also revises one entry "
            "under the destination of India.",
            [],
        ),
    ],
)
def test_destination_variants(abstract: str, destinations: list[tuple[str, int]]) -> None:
    facts = extract_entity_list("Additions to the Entity List", abstract, authors=BIS)
    assert facts is not None
    assert list(facts.destinations) == destinations


ABSTRACT_2025_00480 = next(d for d in DOCUMENTS if d["document_number"] == "2025-00480")["abstract"]


@pytest.mark.parametrize(
    ("feed_id", "authors", "summary", "found"),
    [
        ("fr-bis", BIS, ABSTRACT_2025_00480, True),
        (
            "anything",
            ("Commerce Department", "Industry and Security Bureau"),
            ABSTRACT_2025_00480,
            True,
        ),
        ("fr-bis", (), "Sixteen more Chinese firms.", True),
        ("federal-register", (), "", True),
        ("news", (), ABSTRACT_2025_00480, True),  # names BIS and the EAR
        ("news", (), "The Commerce Department blacklisted 16 firms.", False),
        ("fr-bis", ("Homeland Security Department",), ABSTRACT_2025_00480, False),
        ("mofcom", ("Ministry of Commerce of the People's Republic of China",), "", False),
        (
            "reuters-world",
            (),
            "China opposes the addition of its companies to the Entity List.",
            False,
        ),
    ],
)
def test_only_bis_documents_give_facts(
    feed_id: str, authors: tuple[str, ...], summary: str, found: bool
) -> None:
    title = "Additions to the Entity List"
    facts = extract_entity_list(title, summary, feed_id=feed_id, authors=authors)
    assert (facts is not None) is found


@pytest.mark.parametrize(
    "summary",
    [
        "BIS amends the EAR by adding 2 entities to the Entity List under the destinations of "
        "Japan (1), China (1). " * 200_000,
        "in " + "Aa " * 2_000_000 + "(1)",
        "adding " + "existing " * 1_000_000 + "entities",
        "(" * 3_000_000,
    ],
    ids=["repeated-abstract", "long-capitalized-run", "long-modifier-run", "parentheses"],
)
def test_huge_input_is_capped_and_fast(summary: str) -> None:
    title = "Additions to the Entity List " * 100_000
    started = time.perf_counter()
    facts = extract_entity_list(title, summary, authors=BIS)
    elapsed = time.perf_counter() - started
    # A hang guard (catastrophic backtracking would take minutes), not a speed target.
    assert elapsed < 5.0
    assert facts == extract_entity_list(title[:1000], summary[:MAX_TEXT], authors=BIS)


EL_TITLES = st.sampled_from([str(doc["title"]) for doc in DOCUMENTS] + ["Entity List Additions"])
ABSTRACT_ALPHABET = st.sampled_from(
    [*"()0123456789 ,;.:-'\u2019&#[]<>ABCEILMNSTUabcdefilmnorstuvyſ\u0130\n\x00"]
)
ABSTRACT_WORDS = st.sampled_from(
    [
        "adding",
        "revises",
        "removes",
        "entities",
        "entry",
        "thirty-six",
        "an",
        "the",
        "List",
        "Entity",
        "MEU",
        "destinations of",
        "under",
        "in",
        "China",
        "(China)",
        "(30)",
        "That",
        "existing",
        "and",
        "; ",
        ". ",
        ", ",
        "(",
        ")",
        "People's Republic of",
        "[uuml]",
        "&amp;",
    ]
)
RANDOM_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(ABSTRACT_ALPHABET, max_size=300),
    st.lists(ABSTRACT_WORDS, max_size=60).map(" ".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.one_of(EL_TITLES, st.text(max_size=200)), summary=RANDOM_TEXT)
def test_never_raises_and_gives_storable_facts(title: str, summary: str) -> None:
    facts = extract_entity_list(title, summary, authors=BIS)
    if facts is None:
        return
    assert facts.action
    assert all(n is None or n >= 0 for n in (facts.added, facts.revised, facts.removed))
    assert all(name and count >= 0 for name, count in facts.destinations)
    stored = json.loads(json.dumps(facts.as_extras()))
    assert EntityListFacts.from_extras(stored) == facts


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"action": st.text()},
            optional={"added": JSON_VALUES, "removed": JSON_VALUES, "destinations": JSON_VALUES},
        ),
    )
)
def test_from_extras_refuses_bad_data_only_with_value_error(data: object) -> None:
    try:
        facts = EntityListFacts.from_extras(data)
    except ValueError as error:
        assert str(error).startswith("entity_list extras:")
    else:
        assert EntityListFacts.from_extras(facts.as_extras()) == facts
