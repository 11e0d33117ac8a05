"""The CSL read from recorded downloads: 2018's CSV, today's CSV with `_id`, the JSON."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.ingest.screening.csl import (
    ScreeningEntry,
    ScreeningListError,
    parse_screening_list,
    source_code,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"
SHARED = Path(__file__).parents[4] / "shared" / "fr-samples"


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_csv_2018_entity_list_rows() -> None:
    listed = parse_screening_list(_read("csl_2018-12-04_subset.csv"))
    assert listed.format == "csv-2018"
    assert listed.skipped == 0
    el = [e for e in listed.entries if e.list_code == "EL"]
    assert len(el) == 1084
    first = el[0]
    assert first.id is None
    assert first.name == "13 Institute, China Academy of Launch Vehicle Technology (CALT)"
    assert first.alt_names[:2] == (
        "13th Institute China Aerospace Times Electronics Corp (CATEC)",
        "713 Institute of Beijing",
    )
    assert first.countries == ("CN",)
    assert first.citations == ("66 FR 24265",)
    assert first.start_date == date(2001, 5, 14)
    two = next(e for e in el if e.name == "32 Group China Ltd.")
    assert len(two.addresses) == 2
    assert two.addresses[1].endswith("Kowloon, HK")
    assert two.countries == ("HK",)
    # 1,057 of the 1,084 entries cite at least one notice in a readable style.
    assert sum(1 for e in el if e.citations) == 1057


def test_csv_2018_cp1252_byte_does_not_stop_the_read() -> None:
    body = _read("csl_2018-12-04_subset.csv").replace(b"Bul\xc2\x92var", b"Bul\x92var", 1)
    listed = parse_screening_list(body)
    assert len(listed.entries) == 1084 + 76 + 150


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/fr-samples is absent")
def test_whole_2018_list() -> None:
    listed = parse_screening_list((SHARED / "csl_consolidated_2018-12-04_full.csv").read_bytes())
    assert len(listed.entries) == 10_085
    codes = {e.list_code for e in listed.entries}
    assert {"EL", "SDN", "DPL", "ISN", "UVL", "SSI", "DTC"} <= codes


def test_csv_of_today_with_ids() -> None:
    listed = parse_screening_list(_read("csl_consolidated_2025_sample13.csv"))
    assert listed.format == "csv-id"
    assert len(listed.entries) == 13
    assert all(e.id for e in listed.entries)
    el = next(e for e in listed.entries if e.list_code == "EL")
    assert el.id == "99ed1b052fdb09695fae1ba87516d8a0882b0df04652e07aeb5ce7be"
    assert el.name.startswith("China Electronics Technology Group Corporation 13th")
    assert el.citations == ("83 FR 37423", "87 FR 77505")
    # "; and " between aliases and between addresses.
    assert el.alt_names[-1] == "CETC Research Institute 13"
    assert len(el.addresses) == 3
    assert el.countries == ("CN",)
    isn = next(e for e in listed.entries if e.list_code == "ISN")
    assert isn.federal_register_notice == "Vol. 88, No. 151, 08/08/2023"
    assert isn.citations == ()


def test_json_records() -> None:
    listed = parse_screening_list(_read("csl_el_expected_results_json_2015.json"))
    assert listed.format == "json"
    assert len(listed.entries) == 7
    farid = listed.entries[0]
    assert farid.name == "Fazal Rahim Farid"
    assert farid.alt_names == ("Fazel Rahim Farid", "Farid", "Engineer Idris")
    assert farid.addresses[0] == "Microrayan 3rd Apt. 45, block #21, Kabul, AF"
    assert farid.countries == ("AF",)
    assert farid.citations == ("76 FR 71867",)
    peker = next(e for e in listed.entries if e.name == "Murat Peker")
    assert peker.citations == ("78 FR 75485",)  # written "78 FR 75485 "


def test_json_api_shape_with_results() -> None:
    records = json.loads(_read("csl_el_expected_results_json_2015.json"))
    body = json.dumps({"total": 7, "results": records}).encode()
    assert len(parse_screening_list(body).entries) == 7


def test_round_trip_through_dict() -> None:
    for entry in parse_screening_list(_read("csl_consolidated_2025_sample13.csv")).entries:
        assert ScreeningEntry.from_dict(entry.as_dict()) == entry


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html><body>Not found</body></html>", "not a Consolidated Screening List"),
        (b'{"error": "rate limited"}', "JSON without a list"),
        (b"[1, 2", "bad JSON"),
        (b"", "not a Consolidated Screening List"),
    ],
)
def test_not_a_screening_list(body: bytes, said: str) -> None:
    with pytest.raises(ScreeningListError, match=said):
        parse_screening_list(body)


def test_rows_without_name_are_counted() -> None:
    body = b"source,name,addresses\nEntity List (EL) - BIS,,CN\nEntity List (EL) - BIS,Acme,CN\n"
    listed = parse_screening_list(body)
    assert [e.name for e in listed.entries] == ["Acme"]
    assert listed.skipped == 1


def test_source_code() -> None:
    assert source_code("Entity List (EL) - Bureau of Industry and Security") == "EL"
    assert source_code("Part 561 List (561) - Treasury Department") == "561"
