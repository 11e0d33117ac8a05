"""The Consolidated Screening List (CSL) in its CSV and JSON forms, read into `ScreeningEntry`s.

Formats read (recorded samples in tests/fixtures/screening/):
- CSV as published until about 2020: 28 columns, `source` first, no id;
- CSV as published today: the same columns after a leading `_id`;
- JSON: a list of records (or `{"results": [...]}` as the CSL API answers), with
  `addresses` as objects (`address`, `city`, `country`, ...) and `alt_names` a list.

Not obvious:
- The CSV separates several addresses with "; " and ends each with a country
  code ("..., Beijing, CN"); today's also writes "; and " between them. Alias lists
  are "; "-separated too ("...; and CETC Research Institute 13").
- `start_date` is the first listing and does not move when an entry is revised;
  the citations (`federal_register_notice`) do. See bot/ingest/screening/citations.py.
- Old downloads are not always UTF-8 (a stray cp1252 byte "\\x92"): the body is
  decoded as UTF-8 with a BOM, else cp1252, never failing; C1 control characters
  (cp1252 punctuation read as Latin-1, as in the 2018 list) are read as cp1252.
- Rows without a name are skipped and counted (`ScreeningList.skipped`), as are
  records that are not objects. At most MAX_ROWS rows are read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from bot.ingest.screening.citations import citations

__all__ = [
    "MAX_ROWS",
    "ScreeningEntry",
    "ScreeningList",
    "ScreeningListError",
    "parse_screening_list",
    "source_code",
]

MAX_ROWS = 100_000
MAX_FIELD = 20_000

_SOURCE_CODE = re.compile(r"\(([A-Z0-9]{2,6})\)")
_COUNTRY_AT_END = re.compile(r"(?:^|,\s*)([A-Z]{2})\s*$")
_LIST_SPLIT = re.compile(r"\s*;\s*(?:and\s+)?")
# C1 controls: cp1252 punctuation that went through Latin-1 ("HA\x92Assif" is "HA’Assif").
_C1 = re.compile("[\x80-\x9f]")


class ScreeningListError(ValueError):
    """The document is not a CSL in any form read here; the message says what it looks like."""


@dataclass(frozen=True, slots=True)
class ScreeningEntry:
    """One row of the CSL: a party on one of the US government's screening lists.

    `id` is the row's `_id` when the format has one; `citations` are the
    normalised Federal Register citations of `federal_register_notice` (its raw
    text is kept too); `countries` are the ISO codes the addresses end in, in order, once each.
    """

    name: str
    source: str
    id: str | None = None
    alt_names: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    federal_register_notice: str = ""
    citations: tuple[str, ...] = ()
    start_date: date | None = None
    entity_number: str = ""
    entity_type: str = ""
    programs: tuple[str, ...] = ()
    license_requirement: str = ""
    license_policy: str = ""
    source_list_url: str = ""

    @property
    def list_code(self) -> str:
        """The short code of the source list: "EL", "SDN", "DPL", ... (or the source)."""
        return source_code(self.source)

    @property
    def names(self) -> tuple[str, ...]:
        """The name, then every alias."""
        return (self.name, *self.alt_names)

    def content_digest(self) -> str:
        """A short digest of everything an analyst would call a change (not the raw extras)."""
        parts = [
            self.name,
            self.source,
            *self.alt_names,
            "|",
            *self.addresses,
            "|",
            self.federal_register_notice,
            str(self.start_date or ""),
            self.license_requirement,
            self.license_policy,
            *self.programs,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]

    def as_dict(self) -> dict[str, object]:
        """A JSON-safe form (for a snapshot and for `Item.extras`)."""
        return {
            "id": self.id,
            "name": self.name,
            "source": self.source,
            "alt_names": list(self.alt_names),
            "addresses": list(self.addresses),
            "countries": list(self.countries),
            "federal_register_notice": self.federal_register_notice,
            "citations": list(self.citations),
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "entity_number": self.entity_number,
            "entity_type": self.entity_type,
            "programs": list(self.programs),
            "license_requirement": self.license_requirement,
            "license_policy": self.license_policy,
            "source_list_url": self.source_list_url,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ScreeningEntry:
        """Rebuild from `as_dict()`; ValueError when the name or source is missing."""
        name, source = data.get("name"), data.get("source")
        if not isinstance(name, str) or not name or not isinstance(source, str):
            raise ValueError(f"a screening entry needs a name and a source: {str(data)[:80]}")
        raw_id = data.get("id")
        return cls(
            name=name,
            source=source,
            id=raw_id if isinstance(raw_id, str) and raw_id else None,
            alt_names=_texts(data.get("alt_names")),
            addresses=_texts(data.get("addresses")),
            countries=_texts(data.get("countries")),
            federal_register_notice=_text(data.get("federal_register_notice")),
            citations=_texts(data.get("citations")),
            start_date=_date(data.get("start_date")),
            entity_number=_text(data.get("entity_number")),
            entity_type=_text(data.get("entity_type")),
            programs=_texts(data.get("programs")),
            license_requirement=_text(data.get("license_requirement")),
            license_policy=_text(data.get("license_policy")),
            source_list_url=_text(data.get("source_list_url")),
        )


@dataclass(frozen=True, slots=True)
class ScreeningList:
    """A whole download: its entries in file order, and the rows that could not be read."""

    entries: tuple[ScreeningEntry, ...]
    format: str  # "csv-2018", "csv-id", "json"
    skipped: int = 0


def source_code(source: str) -> str:
    """ "Entity List (EL) - Bureau of Industry and Security" -> "EL"."""
    found = _SOURCE_CODE.search(source[:200])
    return found[1] if found else source.strip()[:40]


def parse_screening_list(body: bytes) -> ScreeningList:
    """Read a CSL download (CSV either way, or JSON); ScreeningListError when it is neither."""
    text = _decode(body)
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        return _parse_json(text)
    return _parse_csv(text)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _parse_csv(text: str) -> ScreeningList:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if "name" not in header or "source" not in header:
        shown = ", ".join(header[:5]) or "nothing"
        raise ScreeningListError(
            f"not a Consolidated Screening List: its first line names {shown[:120]}, "
            "not the CSL's columns (source, name, ...)"
        )
    reader.fieldnames = header
    entries: list[ScreeningEntry] = []
    skipped = 0
    for number, row in enumerate(reader):
        if number >= MAX_ROWS:
            break
        entry = _from_csv_row(row)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ScreeningList(tuple(entries), "csv-id" if "_id" in header else "csv-2018", skipped)


def _from_csv_row(row: Mapping[str, str | None]) -> ScreeningEntry | None:
    def cell(name: str) -> str:
        return _text(row.get(name))

    name = cell("name")
    if not name:
        return None
    addresses = _split_list(cell("addresses"))
    notice = cell("federal_register_notice")
    return ScreeningEntry(
        name=name,
        source=cell("source"),
        id=cell("_id") or None,
        alt_names=_split_list(cell("alt_names")),
        addresses=addresses,
        countries=tuple(dict.fromkeys(c for c in map(_country_of, addresses) if c)),
        federal_register_notice=notice,
        citations=citations(notice),
        start_date=_date(cell("start_date")),
        entity_number=cell("entity_number"),
        entity_type=cell("type"),
        programs=_split_list(cell("programs")),
        license_requirement=cell("license_requirement"),
        license_policy=cell("license_policy"),
        source_list_url=cell("source_list_url"),
    )


def _parse_json(text: str) -> ScreeningList:
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ScreeningListError(f"not a Consolidated Screening List: bad JSON ({err})") from None
    if isinstance(data, Mapping):
        data = data.get("results")
    if not isinstance(data, list):
        raise ScreeningListError(
            "not a Consolidated Screening List: JSON without a list of records (or 'results')"
        )
    entries: list[ScreeningEntry] = []
    skipped = 0
    for record in data[:MAX_ROWS]:
        entry = _from_json_record(record) if isinstance(record, Mapping) else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ScreeningList(tuple(entries), "json", skipped)


def _from_json_record(record: Mapping[str, object]) -> ScreeningEntry | None:
    name = _text(record.get("name"))
    if not name:
        return None
    addresses: list[str] = []
    countries: list[str] = []
    raw = record.get("addresses")
    for address in raw if isinstance(raw, list) else []:
        if isinstance(address, Mapping):
            parts = [_text(address.get(k)) for k in ("address", "city", "state", "postal_code")]
            country = _text(address.get("country")).upper()
            line = ", ".join(p for p in [*parts, country] if p)
            if line:
                addresses.append(line)
                if re.fullmatch(r"[A-Z]{2}", country):
                    countries.append(country)
        elif isinstance(address, str) and address.strip():
            addresses.append(" ".join(address.split()))
    notice = _text(record.get("federal_register_notice"))
    programs = record.get("programs")
    return ScreeningEntry(
        name=name,
        source=_text(record.get("source")),
        id=_text(record.get("id") or record.get("_id")) or None,
        alt_names=_texts(record.get("alt_names")),
        addresses=tuple(addresses),
        countries=tuple(dict.fromkeys(countries)),
        federal_register_notice=notice,
        citations=citations(notice),
        start_date=_date(record.get("start_date")),
        entity_number=_text(record.get("entity_number")),
        entity_type=_text(record.get("type")),
        programs=_texts(programs) if isinstance(programs, list) else _split_list(_text(programs)),
        license_requirement=_text(record.get("license_requirement")),
        license_policy=_text(record.get("license_policy")),
        source_list_url=_text(record.get("source_list_url")),
    )


def _split_list(text: str) -> tuple[str, ...]:
    parts = (p.strip(" ;") for p in _LIST_SPLIT.split(text) if p)
    return tuple(dict.fromkeys(p for p in parts if p))


def _country_of(address: str) -> str | None:
    found = _COUNTRY_AT_END.search(address[-40:])
    return found[1] if found else None


def _c1(match: re.Match[str]) -> str:
    return bytes([ord(match[0])]).decode("cp1252", errors="replace")


def _text(value: object) -> str:
    if isinstance(value, str):
        return " ".join(_C1.sub(_c1, value[:MAX_FIELD]).split())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _texts(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(dict.fromkeys(t for t in (_text(v) for v in value) if t))


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def all_names(entries: Iterable[ScreeningEntry]) -> list[str]:
    """Every name and alias of `entries`, in order (for matchers and tests)."""
    return [name for entry in entries for name in entry.names]
