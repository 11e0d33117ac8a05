"""The named entities of an Entity List rule, from the recorded CSL and from the rule's XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.screening.csl import parse_screening_list
from bot.ingest.screening.entities import (
    NamedEntity,
    RuleEntities,
    from_rule_xml,
    from_screening_list,
)
from bot.ingest.screening.frxml import entities_from_rule_xml

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"


@pytest.fixture(scope="module")
def csl_2018() -> RuleEntities | None:
    listed = parse_screening_list((FIXTURES / "csl_2018-12-04_subset.csv").read_bytes())
    return from_screening_list("83 FR 37423", listed.entries)


def test_rows_citing_the_rule(csl_2018: RuleEntities | None) -> None:
    # 83 FR 37423 (1 August 2018) added 44 entities in China; one row first listed
    # earlier cites it as a revision.
    assert csl_2018 is not None
    assert csl_2018.source == "csl"
    assert len(csl_2018.by_action("added")) == 44
    assert [e.name for e in csl_2018.by_action("revised")] == [
        "Chengdu GaStone Technology Co., Ltd. (CGTC)"
    ]
    assert {e.destination for e in csl_2018.entities} == {"China"}


def test_headline_counts_and_first_names(csl_2018: RuleEntities | None) -> None:
    assert csl_2018 is not None
    line = csl_2018.headline(names=2)
    assert line.startswith(
        "44 entities added: China 44: China Aerospace Science and Industry Corporation Second "
        "Academy, China Aerospace Science and Industry Corporation Second Academy. Subordinate "
        "Institution - Second Design Department and 42 more"
    )
    assert line.endswith("1 entity revised: China 1: Chengdu GaStone Technology Co., Ltd. (CGTC)")
    assert not csl_2018.is_complete_in(2, 4)
    details = csl_2018.details()
    assert details[0] == "Added, China (44):"
    assert details[1].startswith("• China Aerospace Science and Industry Corporation Second")
    assert details[45] == "Revised, China (1):"
    assert len(details) == 47


def test_no_row_cites_the_rule() -> None:
    listed = parse_screening_list((FIXTURES / "csl_2018-12-04_subset.csv").read_bytes())
    assert from_screening_list("99 FR 1", listed.entries) is None


def test_from_the_rule_xml() -> None:
    xml = (FIXTURES / "el_rule_2022-27151_constructed.xml").read_bytes()
    found = from_rule_xml("87 FR 77505", entities_from_rule_xml(xml))
    assert found is not None
    assert found.headline() == (
        "4 entities added: China 3: Hefei Core Storage Electronic Limited, Shanghai Micro "
        "Electronics Equipment (Group) Co., Ltd., Yangtze Memory Technologies Co., Ltd.; "
        "Japan 1: Yangtze Memory Technologies Japan · 1 entity revised: China 1: China "
        "Electronics Technology Group Corporation 13th Research Institute (CETC 13) · "
        "1 entity removed: China 1: Beijing Example Trading Co."
    )
    assert found.is_complete_in(3, 4)


def test_extras_round_trip_and_damage(csl_2018: RuleEntities | None) -> None:
    assert csl_2018 is not None
    assert RuleEntities.from_extras(csl_2018.as_extras()) == csl_2018
    assert RuleEntities.of({"entities": csl_2018.as_extras()}) == csl_2018
    assert RuleEntities.of({"entities": {"citation": 3}}) is None
    assert RuleEntities.of({}) is None
    with pytest.raises(ValueError, match="without a name"):
        RuleEntities.from_extras({"citation": "1 FR 1", "entities": [{"name": ""}]})
    odd = RuleEntities.from_extras(
        {"citation": "1 FR 1", "entities": [{"name": "A", "action": "exploded"}]}
    )
    assert odd.entities == (NamedEntity("A", "destination not given", "added"),)
