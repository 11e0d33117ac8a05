"""What an analyst uses of one Federal Register document: `Item.extras["federal_register"]`.

`FederalRegisterFacts.from_api` reads one document of the documents API
(`/api/v1/documents/NUMBER.json`, or one entry of a multi-document or search
response's `results`); `as_extras` / `from_extras` round-trip it through the
store as JSON. The API's data is not uniform, so parsing is lenient where the
publisher is inconsistent and strict where a value would mislead:

- `cfr_references[].part` is an integer in some responses and a string in
  others; both become "15 CFR 744".
- `correction_of` is an API URL (".../documents/2023-27742"); the document
  number is kept. A correction's own number starts with "C1-" and its `type`
  stays that of the corrected document.
- `effective_on` and `comments_close_on` are often null (the free-text `dates`
  is not parsed); a date that is not ISO `YYYY-MM-DD` is dropped, never guessed.
- `significant` is true, false or null (unknown); null stays None.
- `changes` is not the API's: the enrichment (bot/ingest/fedreg/apply.py)
  records there what a correction or a later fetch moved ("comments close
  4 Mar -> 18 Mar"); `with_dates` makes that record.
- BIS documents list two agencies (Commerce and BIS): both are kept, with
  their slugs, which are what a feed's conditions name.

`from_api` raises ValueError naming what is wrong when the document has no
`document_number` or `type`; every other field is optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from bot.daynames import MONTHS_SHORT

__all__ = ["EXTRAS_KEY", "TYPES", "FederalRegisterFacts", "document_number_in", "short_date"]

EXTRAS_KEY = "federal_register"
TYPES = ("Rule", "Proposed Rule", "Notice", "Presidential Document")
MAX_LIST = 200
MAX_TEXT = 1_000
MAX_CHANGES = 10
# "2023-02130", "C1-2023-27742", "E8-12345", "R1-2024-00123": the API's document numbers.
_DOC_NUMBER = re.compile(r"(?<![\w-])((?:[A-Z][0-9]-)?[0-9]{2,4}-[0-9]{3,6})(?![\w-])")
_TUPLE_FIELDS = ("cfr_parts", "docket_ids", "rins", "agencies", "agency_slugs", "changes")
_DATE_FIELDS = ("publication_date", "effective_on", "comments_close_on")


def document_number_in(text: str) -> str | None:
    """The first Federal Register document number in `text` (a URL or a GUID), else None."""
    found = _DOC_NUMBER.search(text[:MAX_TEXT])
    return found.group(1) if found else None


@dataclass(frozen=True, slots=True)
class FederalRegisterFacts:
    """One document as the documents API describes it; every field but the first two optional."""

    document_number: str
    type: str
    action: str = ""
    title: str = ""
    citation: str = ""
    publication_date: date | None = None
    effective_on: date | None = None
    comments_close_on: date | None = None
    cfr_parts: tuple[str, ...] = ()
    docket_ids: tuple[str, ...] = ()
    rins: tuple[str, ...] = ()
    significant: bool | None = None
    agencies: tuple[str, ...] = ()
    agency_slugs: tuple[str, ...] = ()
    correction_of: str | None = None
    page_length: int | None = None
    pdf_url: str = ""
    html_url: str = ""
    full_text_xml_url: str = ""
    # What a correction or a later fetch changed in the dates, in words
    # ("comments close 4 Mar -> 18 Mar"); set by the enrichment, never by the API.
    changes: tuple[str, ...] = ()

    @property
    def is_correction(self) -> bool:
        """A correction of another document (its number starts "C1-" or it names one)."""
        return self.correction_of is not None or self.document_number[:1] == "C"

    def with_dates(
        self, effective_on: date | None, comments_close_on: date | None
    ) -> FederalRegisterFacts:
        """These facts with the dates a correction or a later fetch gives, the move recorded.

        A date the newer source does not give (None) leaves the stored one; a
        date that moves adds "comments close 4 Mar -> 18 Mar" to `changes`.
        """
        moved: list[str] = []
        new_effective, new_close = self.effective_on, self.comments_close_on
        if effective_on is not None and effective_on != self.effective_on:
            moved.append(_moved("effective", self.effective_on, effective_on))
            new_effective = effective_on
        if comments_close_on is not None and comments_close_on != self.comments_close_on:
            moved.append(_moved("comments close", self.comments_close_on, comments_close_on))
            new_close = comments_close_on
        if not moved:
            return self
        changes = tuple(dict.fromkeys((*self.changes, *moved)))[-MAX_CHANGES:]
        return replace(
            self, effective_on=new_effective, comments_close_on=new_close, changes=changes
        )

    @classmethod
    def from_api(cls, document: Mapping[str, Any]) -> FederalRegisterFacts:
        """Read one documents-API document; ValueError if it has no number or type."""
        number = _text(document.get("document_number"))
        kind = _text(document.get("type"))
        if not number or not kind:
            missing = "document_number" if not number else "type"
            raise ValueError(f"Federal Register document without a {missing}")
        corrected = _text(document.get("correction_of"))
        return cls(
            document_number=number,
            type=kind,
            action=_text(document.get("action")),
            title=_text(document.get("title")),
            citation=_text(document.get("citation")),
            publication_date=_date(document.get("publication_date")),
            effective_on=_date(document.get("effective_on")),
            comments_close_on=_date(document.get("comments_close_on")),
            cfr_parts=_cfr_parts(document.get("cfr_references")),
            docket_ids=_texts(document.get("docket_ids")),
            rins=_texts(document.get("regulation_id_numbers")),
            significant=_flag(document.get("significant")),
            agencies=_texts(_agency_field(document.get("agencies"), "name")),
            agency_slugs=_texts(_agency_field(document.get("agencies"), "slug")),
            correction_of=document_number_in(corrected) if corrected else None,
            page_length=_count(document.get("page_length")),
            pdf_url=_text(document.get("pdf_url")),
            html_url=_text(document.get("html_url")),
            full_text_xml_url=_text(document.get("full_text_xml_url")),
        )

    def as_extras(self) -> dict[str, Any]:
        """A JSON-safe dict for `Item.extras["federal_register"]` (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out

    @classmethod
    def from_extras(cls, data: object) -> FederalRegisterFacts:
        """Rebuild from `as_extras()` output; ValueError says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError("federal_register extras: need a mapping")
        known = {field.name for field in fields(cls)}
        values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        try:
            for name in _DATE_FIELDS:
                raw = values.get(name)
                values[name] = date.fromisoformat(raw) if isinstance(raw, str) else None
            for name in _TUPLE_FIELDS:
                values[name] = _texts(values.get(name))
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"federal_register extras: {exc}") from exc

    @classmethod
    def of(cls, extras: Mapping[str, Any]) -> FederalRegisterFacts | None:
        """The facts stored on an item's extras, or None when absent or damaged."""
        data = extras.get(EXTRAS_KEY)
        if data is None:
            return None
        try:
            return cls.from_extras(data)
        except ValueError:
            return None


def short_date(day: date) -> str:
    """ "4 Mar": how lines and changes write a date (the year is that of the line around it)."""
    return f"{day.day} {MONTHS_SHORT[day.month - 1]}"


def _moved(what: str, before: date | None, after: date) -> str:
    if before is None:
        return f"{what} {short_date(after)} (new)"
    return f"{what} {short_date(before)} -> {short_date(after)}"


def _text(value: Any) -> str:
    return " ".join(value.split())[:MAX_TEXT] if isinstance(value, str) else ""


def _texts(values: Any) -> tuple[str, ...]:
    if not isinstance(values, Iterable) or isinstance(values, str | bytes | Mapping):
        return ()
    out = (_text(value) for value in values)
    return tuple(dict.fromkeys(value for value in out if value))[:MAX_LIST]


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _cfr_parts(references: Any) -> tuple[str, ...]:
    if not isinstance(references, list):
        return ()
    parts: list[str] = []
    for reference in references[:MAX_LIST]:
        if not isinstance(reference, Mapping):
            continue
        title, part = reference.get("title"), reference.get("part")
        if isinstance(title, int | str) and isinstance(part, int | str) and str(part).strip():
            parts.append(f"{str(title).strip()} CFR {str(part).strip()}")
    return tuple(dict.fromkeys(parts))


def _agency_field(agencies: Any, key: str) -> list[Any]:
    if not isinstance(agencies, list):
        return []
    return [agency.get(key) for agency in agencies[:MAX_LIST] if isinstance(agency, Mapping)]
