"""Watchlists: making and removing watches, and the alerts a watched name raises (pure rules).

A watch is a name (a company, a person) that its owner wants to hear about
wherever it appears: in a new item's title or summary, among the named
entities of an Entity List rule (`extras["entities"]`), or in a new, changed or
removed screening-list entry (`extras["screening"]`). Matching is bot/brief/watch.py's.

One appearance raises one alert: an `Alert` for (owner, item) naming the watch
ids that matched, queued like a subscription's, so an item that also matches
the owner's subscriptions at the same time is one message (the queue merges by
key). A watch already told about an item is not told again, but a watch hit
found after the item was alerted through a subscription (the rule's entities
named at a later poll) still gets its alert: the queue remembers a sent key
per watch as well as per item (bot/store/records/alertqueue.py).
`where_found` says where the name appeared, for the message.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from bot.brief.watch import THRESHOLD, NameHit, WatchTarget, best_hit, fold_name
from bot.ingest.screening.entities import RuleEntities
from bot.models import WATCH_ID_PREFIX, Alert, Item
from bot.store.ports import Transaction, Watch

__all__ = [
    "MAX_NAME",
    "MAX_WATCHES",
    "SCREENING_KEY",
    "WatchError",
    "create_watch",
    "delete_watch",
    "watch_alerts",
    "where_found",
]

MAX_WATCHES = 200  # per owner
MAX_NAME = 200
SCREENING_KEY = "screening"  # extras of a screening-list item: its entry (as_dict)
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


class WatchError(ValueError):
    """A watch request that cannot be done; `str(error)` is the sentence to show."""


def create_watch(
    tx: Transaction,
    *,
    owner: str,
    created_by: str,
    name: str,
    now: datetime,
    aliases: Sequence[str] = (),
) -> Watch:
    """Record a new watch of `name` for `owner`; WatchError when it cannot be."""
    name = " ".join(name.split())
    if not fold_name(name):
        raise WatchError("say which name to watch: letters or digits, not only punctuation")
    if len(name) > MAX_NAME:
        raise WatchError(f"a watched name is at most {MAX_NAME} characters")
    mine = tx.watches.list(owner)
    same = next((w for w in mine if fold_name(w.name) == fold_name(name)), None)
    if same is not None:
        raise WatchError(f"{name} is already watched ({same.id})")
    if len(mine) >= MAX_WATCHES:
        raise WatchError(f"at most {MAX_WATCHES} watches each; /brief unwatch one first")
    watch = Watch(
        id=_new_id(tx.watches.ids()),
        owner=owner,
        name=name,
        created_by=created_by,
        created_at=now,
        aliases=tuple(a for a in dict.fromkeys(aliases) if fold_name(a) != fold_name(name)),
    )
    tx.watches.put(watch)
    return watch


def delete_watch(
    tx: Transaction, what: str, *, owners: Collection[str], by: str, is_admin: bool
) -> Watch:
    """Remove the watch with id `what`, or of that name among `owners`' watches."""
    text = " ".join(what.split())
    watch = tx.watches.get(text.lower())
    if watch is None:
        folded = fold_name(text)
        watch = next(
            (w for o in owners for w in tx.watches.list(o) if fold_name(w.name) == folded), None
        )
    if watch is None:
        raise WatchError(f"no watch {text!r}; /brief watches lists yours with their ids")
    if not (is_admin or by in (watch.owner, watch.created_by)):
        raise WatchError(
            f"you cannot remove watch {watch.id}: only its owner ({watch.owner}), "
            f"who made it ({watch.created_by}) or an admin can"
        )
    tx.watches.delete(watch.id)
    return watch


def _new_id(taken: Collection[str]) -> str:
    length = 4
    while True:
        for _ in range(20):
            candidate = WATCH_ID_PREFIX + "".join(
                secrets.choice(_ID_ALPHABET) for _ in range(length)
            )
            if candidate not in taken:
                return candidate
        length += 1


def _target(watch: Watch) -> WatchTarget:
    return WatchTarget(watch.id, watch.names)


def where_found(item: Item, watch: Watch, *, threshold: float = THRESHOLD) -> str | None:
    """Where `watch`'s name appears in `item` ("among the entities: X, China, added"), or None."""
    target = _target(watch)
    entities = RuleEntities.of(item.extras)
    if entities is not None:
        for entity in entities.entities:
            hit = best_hit(target, entity.names, threshold=threshold)
            if hit is not None:
                return (
                    f"among the entities of {entities.citation}: {entity.name} "
                    f"({entity.destination}, {entity.action}){_as(hit, entity.name)}"
                )
    entry = item.extras.get(SCREENING_KEY)
    if isinstance(entry, Mapping):
        names = [entry.get("name"), *(entry.get("alt_names") or [])]
        hit = best_hit(target, [n for n in names if isinstance(n, str)], threshold=threshold)
        if hit is not None:
            change = entry.get("change", "listed")
            return f"on the screening list ({change}): {entry.get('name')}{_as(hit, '')}"
    for place, text in (("title", item.title), ("summary", item.summary)):
        hit = best_hit(target, [text], threshold=threshold)
        if hit is not None:
            return f"in the {place}"
    return None


def _as(hit: NameHit, shown: str) -> str:
    return "" if hit.found == shown else f", as {hit.found}"


def watch_alerts(items: Iterable[Item], watches: Sequence[Watch], *, now: datetime) -> list[Alert]:
    """One alert per (owner, item) where a watched name appears; backlog and repeats skipped."""
    alerts: list[Alert] = []
    if not watches:
        return alerts
    for item in items:
        if item.backlog or item.duplicate_of is not None or item.seq < 1:
            continue
        by_owner: dict[str, list[str]] = {}
        for watch in watches:
            if where_found(item, watch) is not None:
                by_owner.setdefault(watch.owner, []).append(watch.id)
        alerts += [
            Alert(owner, item.seq, tuple(sorted(ids)), now, now) for owner, ids in by_owner.items()
        ]
    return alerts
