"""The named entities of an Entity List rule: `Item.extras["entities"]`, and how they read.

`RuleEntities` is the typed record (`as_extras` / `from_extras`): the rule's
citation, where the names came from ("csl": Consolidated Screening List rows
citing the rule; "federal-register-xml": the rule's own table), and one
`NamedEntity` per entity (name, aliases, destination, action, address).

`from_screening_list` picks the Entity List rows whose `federal_register_notice`
cites the rule: a row citing it first was added by it, a row citing an earlier
rule first was revised by it (the CSL keeps the first listing's `start_date`
and appends later citations). Removed entries are no longer on the list: only
the rule's text (bot/ingest/screening/frxml.py) names them.

`headline` is the line digests and alerts show ("China 30: A, B, C and 27 more;
Japan 1: Yangtze Memory Technologies Japan"): destinations by count, at most
`names` names each; `details` lists every name, for the thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.ingest.screening.csl import ScreeningEntry
from bot.ingest.screening.frxml import RuleEntity
from bot.ingest.screening.pending import ENTITIES_KEY
from bot.ingest.screening.places import country_name

__all__ = [
    "ACTIONS",
    "EXTRAS_KEY",
    "NamedEntity",
    "RuleEntities",
    "from_rule_xml",
    "from_screening_list",
]

EXTRAS_KEY = ENTITIES_KEY
ACTIONS = ("added", "revised", "removed")
MAX_ENTITIES = 2_000
MAX_NAME = 300
_UNKNOWN = "destination not given"


@dataclass(frozen=True, slots=True)
class NamedEntity:
    """One entity a rule names."""

    name: str
    destination: str
    action: str = "added"
    aliases: tuple[str, ...] = ()
    address: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class RuleEntities:
    """The entities one Entity List rule adds, revises or removes, and where they were read."""

    citation: str
    source: str  # "csl" or "federal-register-xml"
    entities: tuple[NamedEntity, ...]

    def as_extras(self) -> dict[str, object]:
        return {
            "citation": self.citation,
            "source": self.source,
            "entities": [
                {
                    "name": e.name,
                    "destination": e.destination,
                    "action": e.action,
                    "aliases": list(e.aliases),
                    "address": e.address,
                }
                for e in self.entities
            ],
        }

    @classmethod
    def from_extras(cls, data: object) -> RuleEntities:
        """Rebuild from `as_extras()`; ValueError says what is wrong."""
        if not isinstance(data, Mapping) or not isinstance(data.get("citation"), str):
            raise ValueError(f"entities extras: need a mapping with a citation: {str(data)[:60]}")
        raw = data.get("entities")
        if not isinstance(raw, list):
            raise ValueError("entities extras: 'entities' must be a list")
        entities = []
        for record in raw[:MAX_ENTITIES]:
            name = record.get("name") if isinstance(record, Mapping) else None
            if not isinstance(name, str) or not name:
                raise ValueError(f"entities extras: an entity without a name: {str(record)[:60]}")
            action = record.get("action")
            aliases = record.get("aliases")
            entities.append(
                NamedEntity(
                    name=name,
                    destination=str(record.get("destination") or _UNKNOWN),
                    action=action if action in ACTIONS else "added",
                    aliases=tuple(a for a in aliases if isinstance(a, str))
                    if isinstance(aliases, list)
                    else (),
                    address=str(record.get("address") or ""),
                )
            )
        source = data.get("source")
        return cls(data["citation"], source if isinstance(source, str) else "", tuple(entities))

    @classmethod
    def of(cls, extras: Mapping[str, object]) -> RuleEntities | None:
        """The record on an item's extras, or None (absent or unreadable)."""
        try:
            return cls.from_extras(extras[EXTRAS_KEY]) if EXTRAS_KEY in extras else None
        except ValueError:
            return None

    def by_action(self, action: str) -> list[NamedEntity]:
        return [e for e in self.entities if e.action == action]

    def groups(self) -> list[tuple[str, str, list[NamedEntity]]]:
        """(action, destination, entities) by action, then destinations by count, largest first."""
        found: list[tuple[str, str, list[NamedEntity]]] = []
        for action in ACTIONS:
            by_place: dict[str, list[NamedEntity]] = {}
            for entity in self.by_action(action):
                by_place.setdefault(entity.destination, []).append(entity)
            ranked = sorted(by_place.items(), key=lambda pair: (-len(pair[1]), pair[0]))
            found += [(action, place, members) for place, members in ranked]
        return found

    def headline(self, *, names: int = 3, places: int = 4) -> str:
        """ "added: China 30: A, B, C and 27 more; Japan 1: D · revised: China 1: E"."""
        parts: list[str] = []
        for action in ACTIONS:
            groups = [(p, m) for a, p, m in self.groups() if a == action]
            if not groups:
                continue
            shown = [_group_line(place, members, names) for place, members in groups[:places]]
            if len(groups) > places:
                rest = sum(len(m) for _, m in groups[places:])
                shown.append(f"{len(groups) - places} more destinations ({rest})")
            parts.append(
                f"{_counted(sum(len(m) for _, m in groups))} {action}: " + "; ".join(shown)
            )
        return " · ".join(parts)

    def is_complete_in(self, headline_names: int, headline_places: int) -> bool:
        """True when `headline` with these limits shows every name (nothing for the thread)."""
        for action in ACTIONS:
            groups = [m for a, _, m in self.groups() if a == action]
            if len(groups) > headline_places or any(len(m) > headline_names for m in groups):
                return False
        return True

    def details(self) -> list[str]:
        """Every entity, by action and destination: "Added, China (30):", then "• A (a.k.a. B)"."""
        lines: list[str] = []
        for action, place, members in self.groups():
            lines.append(f"{action.capitalize()}, {place} ({len(members)}):")
            lines += [f"• {_with_aliases(e)}" for e in members]
        return lines


def _group_line(place: str, members: Sequence[NamedEntity], limit: int) -> str:
    shown = ", ".join(e.name for e in members[:limit])
    more = len(members) - limit
    return f"{place} {len(members)}: {shown}" + (f" and {more} more" if more > 0 else "")


def _with_aliases(entity: NamedEntity) -> str:
    if not entity.aliases:
        return entity.name
    return f"{entity.name} (a.k.a. {', '.join(entity.aliases[:6])})"


def _counted(n: int) -> str:
    return f"{n} {'entity' if n == 1 else 'entities'}"


def from_screening_list(citation: str, entries: Iterable[ScreeningEntry]) -> RuleEntities | None:
    """The Entity List rows of the CSL that cite `citation` ("87 FR 77505"); None when none do."""
    found: list[NamedEntity] = []
    for entry in entries:
        if entry.list_code != "EL" or citation not in entry.citations:
            continue
        action = "added" if entry.citations[0] == citation else "revised"
        place = country_name(entry.countries[0]) if entry.countries else _UNKNOWN
        address = "; ".join(entry.addresses)
        found.append(NamedEntity(_cut(entry.name), place, action, entry.alt_names, _cut(address)))
        if len(found) >= MAX_ENTITIES:
            break
    return RuleEntities(citation, "csl", tuple(found)) if found else None


def from_rule_xml(citation: str, entities: Iterable[RuleEntity]) -> RuleEntities | None:
    """The entities of the rule's own table (bot/ingest/screening/frxml.py); None when none."""
    found = [
        NamedEntity(_cut(e.name), e.destination or _UNKNOWN, e.action, e.aliases, _cut(e.address))
        for e in entities
    ][:MAX_ENTITIES]
    return RuleEntities(citation, "federal-register-xml", tuple(found)) if found else None


def _cut(text: str) -> str:
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"
