"""Entities of an Entity List rule from its Federal Register XML.

The fixture is CONSTRUCTED (tests/fixtures/screening/README.md): no real Entity List
rule XML was available offline. It follows the GPO user guide's elements (REGTEXT,
AMDPAR, GPOTABLE, BOXHD/CHED, ROW/ENT, LI) and BIS's wording.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.screening.frxml import entities_from_rule_xml

RULE = Path(__file__).parents[2] / "fixtures" / "screening" / "el_rule_2022-27151_constructed.xml"


def test_entities_by_destination_and_action() -> None:
    found = entities_from_rule_xml(RULE.read_bytes())
    assert [(e.name, e.destination, e.action) for e in found] == [
        (
            "China Electronics Technology Group Corporation 13th Research Institute (CETC 13)",
            "China",
            "revised",
        ),
        ("Hefei Core Storage Electronic Limited", "China", "added"),
        ("Shanghai Micro Electronics Equipment (Group) Co., Ltd.", "China", "added"),
        ("Yangtze Memory Technologies Co., Ltd.", "China", "added"),
        ("Yangtze Memory Technologies Japan", "Japan", "added"),
        ("Beijing Example Trading Co.", "China", "removed"),
    ]


def test_aliases_address_and_citations() -> None:
    found = {e.name: e for e in entities_from_rule_xml(RULE.read_bytes())}
    ymtc = found["Yangtze Memory Technologies Co., Ltd."]
    assert ymtc.aliases == ("YMTC", "Yangtze Memory Technology Corp.")
    assert ymtc.address.startswith("No. 88 Weilai 3rd Road")
    assert ymtc.citations == ("87 FR 77505",)
    cetc = found["China Electronics Technology Group Corporation 13th Research Institute (CETC 13)"]
    assert len(cetc.aliases) == 5
    assert cetc.citations == ("83 FR 37423", "87 FR 77505")
    smee = found["Shanghai Micro Electronics Equipment (Group) Co., Ltd."]
    assert smee.aliases == ()
    assert smee.address == "1525 Zhangdong Road, Zhangjiang Hi-Tech Park, Pudong, Shanghai, China"
    japan = found["Yangtze Memory Technologies Japan"]
    assert japan.address.startswith("3-16-13 Shinyokohama")


def test_a_name_not_quoted_in_an_amdpar_is_split_from_its_address() -> None:
    body = RULE.read_bytes().replace("“Yangtze Memory Technologies Japan”".encode(), b"it")
    found = {e.name for e in entities_from_rule_xml(body)}
    assert "Yangtze Memory Technologies Japan" in found


def test_a_document_without_the_table_names_nobody() -> None:
    body = b"<RULE><PREAMB><SUBJECT>Air Plan Approval</SUBJECT></PREAMB></RULE>"
    assert entities_from_rule_xml(body) == []


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway",
        # An entity-expansion bomb: refused, not expanded.
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><RULE>&b;</RULE>',
        b"",
    ],
)
def test_not_readable(body: bytes) -> None:
    with pytest.raises(ValueError, match="not readable as XML"):
        entities_from_rule_xml(body)
