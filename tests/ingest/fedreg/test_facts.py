"""FederalRegisterFacts read from recorded documents-API responses (tests/fixtures/fedreg/)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts, document_number_in

FIXTURES = Path(__file__).parents[2] / "fixtures" / "fedreg"


def _documents() -> dict[str, dict[str, Any]]:
    data = json.loads((FIXTURES / "documents_2024-01_six.json").read_text())
    return {doc["document_number"]: doc for doc in data["results"]}


def test_epa_final_rule_single_document_response() -> None:
    doc = json.loads((FIXTURES / "fr_api_single_document_2024-31396.json").read_text())
    facts = FederalRegisterFacts.from_api(doc)
    assert facts.document_number == "2024-31396"
    assert facts.type == "Rule"
    assert facts.action == "Final rule."
    assert facts.citation == "89 FR 107012"
    assert facts.effective_on == date(2025, 1, 30)
    assert facts.comments_close_on is None
    # `part` is a string in this response.
    assert facts.cfr_parts == ("40 CFR 52",)
    assert facts.docket_ids == ("EPA-R09-OAR-2023-0649", "FRL-11647-02-R9")
    assert facts.significant is None
    assert facts.page_length == 4
    assert facts.agencies == ("Environmental Protection Agency",)
    assert facts.pdf_url.endswith("/2024-31396.pdf")
    assert not facts.is_correction


def test_bis_notice_lists_both_agencies_by_slug() -> None:
    facts = FederalRegisterFacts.from_api(_documents()["2024-00190"])
    assert facts.citation == "89 FR 1064"
    assert facts.agency_slugs == ("commerce-department", "industry-and-security-bureau")
    assert facts.publication_date == date(2024, 1, 9)


def test_integer_cfr_parts_and_significant_flag() -> None:
    facts = FederalRegisterFacts.from_api(_documents()["2023-27783"])
    assert facts.cfr_parts == ("46 CFR 520",)
    assert facts.significant is True
    assert facts.effective_on == date(2024, 2, 1)


def test_proposed_rule_comment_close_and_rins() -> None:
    facts = FederalRegisterFacts.from_api(_documents()["2023-27019"])
    assert facts.type == "Proposed Rule"
    assert facts.comments_close_on == date(2024, 3, 4)
    assert facts.rins and all("-" in rin for rin in facts.rins)
    assert facts.significant is False


def test_correction_keeps_the_corrected_number() -> None:
    facts = FederalRegisterFacts.from_api(_documents()["C1-2023-27742"])
    assert facts.correction_of == "2023-27742"
    assert facts.type == "Notice"
    assert facts.action == ""
    assert facts.is_correction


def test_round_trip_through_extras_is_json_safe() -> None:
    for doc in _documents().values():
        facts = FederalRegisterFacts.from_api(doc)
        stored = json.loads(json.dumps(facts.as_extras()))
        assert FederalRegisterFacts.from_extras(stored) == facts
        assert FederalRegisterFacts.of({EXTRAS_KEY: stored}) == facts


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"type": "Rule"}, "without a document_number"),
        ({"document_number": "2024-00190"}, "without a type"),
    ],
)
def test_documents_without_identity_are_refused(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FederalRegisterFacts.from_api(document)


def test_malformed_values_are_dropped_not_guessed() -> None:
    facts = FederalRegisterFacts.from_api(
        {
            "document_number": "2024-00001",
            "type": "Rule",
            "effective_on": "30 January 2025",
            "comments_close_on": 20250130,
            "page_length": "-3",
            "significant": "yes",
            "cfr_references": [{"title": 15, "part": ""}, "744", {"title": 15, "part": 744}],
            "docket_ids": "not-a-list",
        }
    )
    assert facts.effective_on is None
    assert facts.comments_close_on is None
    assert facts.page_length is None
    assert facts.significant is None
    assert facts.cfr_parts == ("15 CFR 744",)
    assert facts.docket_ids == ()


def test_damaged_extras_read_as_absent() -> None:
    assert FederalRegisterFacts.of({}) is None
    assert FederalRegisterFacts.of({EXTRAS_KEY: "garbage"}) is None
    assert (
        FederalRegisterFacts.of(
            {EXTRAS_KEY: {"document_number": "x", "type": "Rule", "effective_on": "soon"}}
        )
        is None
    )


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("https://www.federalregister.gov/documents/2023/02/13/2023-02130/slug", "2023-02130"),
        ("https://www.federalregister.gov/api/v1/documents/2023-27742", "2023-27742"),
        ("https://www.federalregister.gov/d/C1-2023-27742", "C1-2023-27742"),
        ("https://www.federalregister.gov/documents/search?q=chips", None),
    ],
)
def test_document_number_in_urls(text: str, number: str | None) -> None:
    assert document_number_in(text) == number
