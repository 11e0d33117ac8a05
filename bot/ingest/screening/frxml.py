"""The entities a rule's Federal Register XML adds, revises or removes on the Entity List.

A BIS rule amends Supplement No. 4 to Part 744 in its REGTEXT: AMDPAR paragraphs
say what is done ("a. Under CHINA, PEOPLE'S REPUBLIC OF, by: i. Adding ... entries
for “A,” “B” ...; ii. Revising the entry for “C”; iii. Removing the entry for “D”")
and a GPOTABLE (BOXHD of CHED headings "Country", "Entity", "License requirement",
"License review policy", "Federal Register citation"; then ROWs of ENT cells) gives
the text of each added or revised entry. The country cell is filled only on the
first row of a destination; rows of stars stand for entries left out.

An entity cell reads "Name, a.k.a., the following two aliases:<LI>—Alias;</LI>
<LI>—Alias.</LI><LI>Address.</LI>" or "Name, 12 Some Road, City, Country.": the name
is the one AMDPAR quotes when the cell starts with it, else the text before the
first part that looks like an address (a number, "Room", "Building", ...).

An entity is "removed" when an AMDPAR removes it (removed entries have no row),
"revised" when an AMDPAR revises it, else "added". Parsed with defusedxml (no
entities, no DTDs) from at most MAX_BYTES; ValueError when it is not XML.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

from bot.ingest.screening.citations import citations
from bot.ingest.screening.places import destination_name

__all__ = ["MAX_BYTES", "RuleEntity", "entities_from_rule_xml"]

MAX_BYTES = 8 * 1024 * 1024

_QUOTED = re.compile(r"[“\"]([^”\"]{2,300}?),?[”\"]")
_UNDER = re.compile(r"\b(?i:under)\s+([A-Z][A-Z ,.'’()-]{1,80}?)(?:,\s*(?:by|in)\b|[,:;.]?\s*$|,)")
_AKA = re.compile(r",?\s*\b(?:a\.k\.a\b\.?|a/k/a\b|aka\b).*$", re.IGNORECASE | re.DOTALL)
_ADDRESS_START = re.compile(
    r"^(?:\d|No\.|Room\b|Rm\.|Building\b|Bldg\.|Floor\b|Suite\b|Unit\b|Block\b|Flat\b|Office\b"
    r"|P\.?O\.? Box\b|Street\b|Plot\b|Apt\.|Apartment\b|House\b|Tower\b|Level\b|[0-9A-Z]+-\d)",
    re.IGNORECASE,
)
_ALIAS_LEAD = re.compile(r"^\s*[—–-]+\s*")
_TRAILING = re.compile(r"(?:[;,:]\s*(?:and|or)?\s*)+$")
# A final full stop ends the cell, unless it ends an abbreviation ("Co.", "Ltd.", "Corp.").
_FINAL_STOP = re.compile(r"(?:(?<=[^\W\d]{5})|(?<=\d)|(?<=\)))\.$")
_STARS = re.compile(r"^[\s*]+$")


@dataclass(frozen=True, slots=True)
class RuleEntity:
    """One entity as a rule's text gives it."""

    name: str
    destination: str
    action: str  # "added", "revised" or "removed"
    aliases: tuple[str, ...] = ()
    address: str = ""
    citations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Amendment:
    name: str
    action: str
    destination: str


def entities_from_rule_xml(body: bytes) -> list[RuleEntity]:
    """The entities of Supplement No. 4 to Part 744 that this rule adds, revises or removes."""
    if len(body) > MAX_BYTES:
        raise ValueError(f"rule XML of {len(body):,} bytes is over the {MAX_BYTES:,} read")
    try:
        root = ElementTree.fromstring(body)
    except Exception as err:  # ParseError, and defusedxml's refusals of DTDs and entities
        raise ValueError(f"not readable as XML: {err}") from None
    amendments = {_key(a.name): a for a in _amendments(root.iter("AMDPAR"))}
    found: list[RuleEntity] = []
    for table in root.iter("GPOTABLE"):
        columns = _columns(table)
        if "entity" in columns and "country" in columns:
            found += _table_entities(table, columns, list(amendments.values()))
    shown = {_key(entity.name) for entity in found}
    found += [
        RuleEntity(a.name, a.destination, "removed")
        for key, a in amendments.items()
        if a.action == "removed" and key not in shown
    ]
    return found


def _amendments(paragraphs: Iterable[Element]) -> list[_Amendment]:
    """The names each AMDPAR quotes, with its action and the destination it is under."""
    found: list[_Amendment] = []
    destination = ""
    for paragraph in paragraphs:
        text = _text(paragraph)
        under = _UNDER.search(text)
        if under:
            destination = destination_name(under[1])
        lowered = text.lower()
        action = next(
            (
                what
                for word, what in (("remov", "removed"), ("revis", "revised"), ("add", "added"))
                if word in lowered
            ),
            None,
        )
        if action is None:
            continue
        found += [_Amendment(_clean(q), action, destination) for q in _QUOTED.findall(text)]
    return found


def _columns(table: Element) -> dict[str, int]:
    """Which column holds what, from the BOXHD headings ("country", "entity", "citation")."""
    found: dict[str, int] = {}
    for index, heading in enumerate(table.iter("CHED")):
        text = _text(heading).lower()
        for word in ("country", "entity", "citation"):
            if word in text and word not in found:
                found[word] = index
    return found


def _table_entities(
    table: Element, columns: dict[str, int], amendments: list[_Amendment]
) -> list[RuleEntity]:
    found: list[RuleEntity] = []
    destination = ""
    for row in table.iter("ROW"):
        cells = row.findall("ENT")
        country = _cell_text(cells, columns["country"])
        if country and not _STARS.match(country):
            destination = destination_name(country)
        entity_cell = cells[columns["entity"]] if columns["entity"] < len(cells) else None
        if entity_cell is None or not _text(entity_cell) or _STARS.match(_text(entity_cell)):
            continue
        name, aliases, address = _read_entity(entity_cell, amendments)
        if not name:
            continue
        named = next((a for a in amendments if _key(a.name) == _key(name)), None)
        cited = citations(_cell_text(cells, columns.get("citation", -1)))
        action = named.action if named is not None and named.action != "removed" else "added"
        found.append(RuleEntity(name, destination, action, aliases, address, cited))
    return found


def _read_entity(cell: Element, amendments: list[_Amendment]) -> tuple[str, tuple[str, ...], str]:
    """(name, aliases, address) of an entity cell."""
    lead = _clean(cell.text or "")
    items = [_clean("".join(li.itertext())) for li in cell.iter("LI")]
    aliases = tuple(_clean(_ALIAS_LEAD.sub("", i)) for i in items if _ALIAS_LEAD.match(i))
    rest = [i for i in items if i and not _ALIAS_LEAD.match(i)]
    quoted = next(
        (a.name for a in amendments if lead.lower().startswith(a.name.lower()) and a.name), None
    )
    if quoted is not None:
        name, tail = quoted, lead[len(quoted) :]
    else:
        name, tail = _split_name(_AKA.sub("", lead))
    tail = _clean(_AKA.sub("", tail)).lstrip(" .,;")
    address = "; ".join(part for part in [tail, *rest] if part)
    return _clean(name), tuple(a for a in aliases if a), address


def _split_name(text: str) -> tuple[str, str]:
    """ "Name Co., Ltd., 1525 Some Road, City" -> ("Name Co., Ltd.", "1525 Some Road, City")."""
    parts = text.split(", ")
    for index in range(1, len(parts)):
        if _ADDRESS_START.match(parts[index]):
            return ", ".join(parts[:index]), ", ".join(parts[index:])
    return text, ""


def _cell_text(cells: list[Element], index: int) -> str:
    return _text(cells[index]) if 0 <= index < len(cells) else ""


def _text(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _clean(text: str) -> str:
    text = _TRAILING.sub("", " ".join(text.split())).strip(' “”"')
    return _FINAL_STOP.sub("", _TRAILING.sub("", text))


def _key(name: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", name.casefold()).split())
