"""One CSL download against the previous one: additions, removals and changes, as items.

Entries are matched by `_id` where the format has one (today's CSV and JSON).
Without ids (the CSV of 2018) an entry is known by its list and name; the rare
duplicates (two persons of one name on one list: 64 in the 2018 list) are told
apart by entity number, then citations, then start date. The citations are not
part of the key: a revision appends one ("83 FR 37423; 87 FR 77505") and must
show as a change of that entry, not as a removal plus an addition.

A change is any difference in what `ScreeningEntry.content_digest` covers: the
names, addresses, citations, start date, licence requirement and policy,
programs. Its item says which of those changed.

Items (`change_item`) belong to the feed "screening-list"; their id is a digest
of the entry's key, the kind of change and the entry's content, so the same
change computed twice (a crash between storing the items and saving the
snapshot) is the same item and is not stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from bot.config.model import SCREENING_LIST_FEED_ID
from bot.ingest.screening.csl import ScreeningEntry
from bot.ingest.screening.places import country_name
from bot.models import Item

__all__ = ["FEED_ID", "Change", "change_item", "diff_lists", "entry_keys"]

FEED_ID = SCREENING_LIST_FEED_ID
_COMPARED = (
    ("name", "name"),
    ("alt_names", "aliases"),
    ("addresses", "addresses"),
    ("federal_register_notice", "Federal Register citations"),
    ("start_date", "start date"),
    ("license_requirement", "licence requirement"),
    ("license_policy", "licence policy"),
    ("programs", "programs"),
)
_VERB = {"added": "Added to", "removed": "Removed from", "changed": "Changed on"}


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between two downloads."""

    kind: str  # "added", "removed", "changed"
    key: str
    entry: ScreeningEntry  # the entry as it is now (as it was, for a removal)
    changed: tuple[str, ...] = ()  # what changed, for "changed"


def entry_keys(entries: Sequence[ScreeningEntry]) -> list[str]:
    """Each entry's key, in order (see the module docstring)."""
    base = [e.id or f"{e.list_code}\x1f{e.name.casefold()}" for e in entries]
    counts: dict[str, int] = {}
    for key in base:
        counts[key] = counts.get(key, 0) + 1
    keys: list[str] = []
    seen: dict[str, int] = {}
    for key, entry in zip(base, entries, strict=True):
        if counts[key] > 1:
            key = "\x1f".join(
                [key, entry.entity_number, *entry.citations, str(entry.start_date or "")]
            )
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}\x1f#{seen[key]}")
    return keys


def diff_lists(
    previous: Sequence[ScreeningEntry], current: Sequence[ScreeningEntry]
) -> list[Change]:
    """Additions and changes in `current`'s order, then removals in `previous`'s."""
    before = dict(zip(entry_keys(previous), previous, strict=True))
    now = dict(zip(entry_keys(current), current, strict=True))
    changes: list[Change] = []
    for key, entry in now.items():
        old = before.get(key)
        if old is None:
            changes.append(Change("added", key, entry))
        elif old.content_digest() != entry.content_digest():
            what = tuple(
                label for name, label in _COMPARED if getattr(old, name) != getattr(entry, name)
            )
            changes.append(Change("changed", key, entry, what or ("details",)))
    changes += [Change("removed", k, e) for k, e in before.items() if k not in now]
    return changes


def change_item(change: Change) -> Item:
    """The item of one change: title, summary of the entry, its facts on `extras["screening"]`."""
    entry = change.entry
    places = ", ".join(country_name(c) for c in entry.countries[:3])
    title = f"{_VERB[change.kind]} the {entry.source.split(' - ')[0]}: {entry.name}"
    if places:
        title += f" ({places})"
    lines = []
    if change.changed:
        lines.append(f"Changed: {', '.join(change.changed)}.")
    if entry.alt_names:
        lines.append(f"Also known as: {'; '.join(entry.alt_names[:10])}.")
    if entry.addresses:
        lines.append(f"Addresses: {' / '.join(entry.addresses[:3])}.")
    if entry.federal_register_notice:
        lines.append(f"Federal Register: {entry.federal_register_notice}.")
    if entry.start_date:
        lines.append(f"Listed since {entry.start_date.isoformat()}.")
    digest = hashlib.sha256(
        "\x1f".join([change.key, change.kind, entry.content_digest()]).encode()
    ).hexdigest()[:24]
    link = entry.source_list_url if entry.source_list_url.startswith("https://") else None
    facts = {**entry.as_dict(), "change": change.kind, "changed": list(change.changed)}
    extras = {"screening": facts}
    return Item(
        id=f"csl-{digest}",
        feed_id=FEED_ID,
        title=title,
        summary=" ".join(lines),
        link=link,
        tags=("screening-list", entry.list_code.lower()),
        extras=extras,
    )
