"""Which recent Entity List rules still lack their named entities, read cheaply.

What `ScreeningSource.resolve_entities` (source.py) works on: each of the
newest RESOLVE_SCAN items with `extras["entity_list"]` and a Federal Register
citation but no `extras["entities"]`. Kept apart from the source so that a
poll can ask whether there is any such rule without loading the screening
list's code (the CSV reader, the rule XML reader, the watch matcher: 20 ms
of a `briefbot poll`), and reads only the items that hold the Entity List key
(`newest_with_extra`), not all 2,000.
"""

from __future__ import annotations

from bot.ingest.entitylist import EXTRAS_KEY as ENTITY_LIST_KEY
from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import Item
from bot.store.ports import ItemReader

__all__ = ["ENTITIES_KEY", "RESOLVE_SCAN", "unnamed_rules"]

#: Where an Entity List rule's named entities are kept (entities.py writes them).
ENTITIES_KEY = "entities"
#: How many of the newest items `resolve_entities` looks at.
RESOLVE_SCAN = 2_000


def unnamed_rules(items: ItemReader) -> list[tuple[Item, FederalRegisterFacts]]:
    """The recent Entity List rules with a citation and no named entities, newest first."""
    return [
        (item, facts)
        for item in items.newest_with_extra(ENTITY_LIST_KEY, RESOLVE_SCAN)
        if ENTITIES_KEY not in item.extras
        if (facts := FederalRegisterFacts.of(item.extras)) is not None and facts.citation
    ]
