"""`/brief watch`, `watches`, `unwatch` and `entity`: names to watch, and where a name appeared.

A member watches a name for themselves (alerts by direct message); an admin may
watch one for a channel (`/brief watch #channel <name>`, the channel picked in
Slack). A new watch takes the aliases the screening list gives the party when
one of its entries has that name (matched as watches match), so "YMTC" also
catches "Yangtze Memory Technologies Co., Ltd.".

`/brief entity <name>` lists the Entity List rules whose named entities include
the name or one of its aliases (with their dates and citations), the
screening-list changes naming it, and its entries on the last downloaded list.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.app.commands.session import CommandError, Session, sentence
from bot.app.commands.subscriptions import _channel_named
from bot.app.commands.words import CHANNEL_ID, Word, channel_of, joined
from bot.brief.watch import THRESHOLD, WatchTarget, best_hit, fold_name
from bot.brief.watchlist import SCREENING_KEY, WatchError, create_watch, delete_watch
from bot.ingest.screening.csl import ScreeningEntry
from bot.ingest.screening.entities import RuleEntities
from bot.ingest.screening.places import country_name
from bot.models import Item, SlackMessage
from bot.store.ports import Watch

__all__ = ["entity", "unwatch", "watch", "watches"]

MAX_ALIASES = 20
MAX_LISTED = 15
# `/brief entity` looks at the newest this many stored items.
ENTITY_SCAN = 20_000


def watch(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief watch [#channel] <name>`."""
    if not args:
        raise CommandError("say which name to watch, such as /brief watch Huawei", "watch")
    request = session.request
    owner, where = request.user_id, "by direct message"
    channel = channel_of(args[0])
    by_name = channel is None and args[0].text.startswith("#") and len(args[0].text) > 1
    if channel is not None or by_name:
        session.require_admin("watch a name for a channel")
        channel = channel or _channel_named(session, args[0].text)
        owner, where, args = channel, f"in {args[0].text}", args[1:]
    name = joined(args).strip().strip('"“”')
    aliases = _aliases_on_the_list(session, name)
    try:
        with session.store.transaction() as tx:
            made = create_watch(
                tx,
                owner=owner,
                created_by=request.user_id,
                name=name,
                now=session.now(),
                aliases=aliases,
            )
    except WatchError as err:
        raise CommandError(sentence(str(err)), "watch") from None
    lines = [
        f"Watching {made.name} (id {made.id}): alerts {where} when it appears in a new "
        "item, among the entities of an Entity List rule or on the screening list."
    ]
    if made.aliases:
        shown = "; ".join(made.aliases[:8]) + ("; …" if len(made.aliases) > 8 else "")
        lines.append(f"Also matching its {len(made.aliases)} names on the screening list: {shown}")
    lines.append(f"/brief unwatch {made.id} stops it.")
    return session.notice("\n".join(lines))


def _aliases_on_the_list(session: Session, name: str) -> list[str]:
    """The other names of the screening-list entries that have this name (or alias)."""
    snapshot = session.runtime.screening.snapshot()
    if snapshot is None or not fold_name(name):
        return []
    folded = fold_name(name)
    found: list[str] = []
    for entry in snapshot.entries:
        # The same party only: an entry whose name merely contains it (a subsidiary) is not.
        if any(fold_name(n) == folded for n in entry.names):
            found += entry.names
    return [n for n in dict.fromkeys(found) if fold_name(n) != folded][:MAX_ALIASES]


def watches(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief watches`: the caller's watches and this channel's, and the threshold."""
    session.no_args(args)
    stored = session.store.watches
    parts = [_listed("Your watches", stored.list(session.request.user_id))]
    channel = session.request.channel_id
    if CHANNEL_ID.fullmatch(channel):
        here = stored.list(channel)
        if here:
            parts.append(_listed("This channel's watches", here))
    parts.append(
        f"Names match at a similarity of {THRESHOLD}/100 or more, ignoring case, punctuation, "
        "legal forms (Co., Ltd., LLC, ...) and common transliteration variants."
    )
    return session.notice("\n\n".join(parts))


def _listed(title: str, found: Sequence[Watch]) -> str:
    if not found:
        return f"{title}: none. Try /brief watch Huawei."
    lines = [f"{title}:"]
    for w in found:
        also = f" (and {len(w.aliases)} other names)" if w.aliases else ""
        lines.append(f"• {w.id}: {w.name}{also}")
    return "\n".join(lines)


def unwatch(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief unwatch <name|id>`: by its owner, whoever made it, or an admin."""
    if not args:
        raise CommandError("say which watch to remove: its id or name", "unwatch")
    owners = [session.request.user_id, session.request.channel_id]
    try:
        with session.store.transaction() as tx:
            gone = delete_watch(
                tx,
                joined(args),
                owners=owners,
                by=session.request.user_id,
                is_admin=session.is_admin,
            )
    except WatchError as err:
        raise CommandError(sentence(str(err)), "unwatch") from None
    return session.notice(f"No longer watching {gone.name} ({gone.id}).")


def entity(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief entity <name>`: the rules and dates where the name or an alias appears."""
    name = joined(args).strip().strip('"“”')
    if not fold_name(name):
        raise CommandError("say which name to look up, such as /brief entity YMTC", "entity")
    target = WatchTarget("lookup", (name, *_aliases_on_the_list(session, name)))
    lines = _in_rules(session, target) + _on_the_list(session, target)
    if not lines:
        return session.notice(
            f"{name} appears in no stored Entity List rule or screening-list change, and "
            "not on the last downloaded screening list."
        )
    shown = lines[:MAX_LISTED]
    more = f"\n…and {len(lines) - MAX_LISTED} more." if len(lines) > MAX_LISTED else ""
    return session.notice(f"{name}:\n" + "\n".join(shown) + more)


def _in_rules(session: Session, target: WatchTarget) -> list[str]:
    lines = []
    scope = session.scope  # many workspaces: its feeds' rules only
    for item in scope.items(session.runtime.store.items.newest_first(ENTITY_SCAN)):
        line = _rule_line(item, target) or _change_line(item, target)
        if line:
            lines.append(line)
    return lines


def _rule_line(item: Item, target: WatchTarget) -> str | None:
    named = RuleEntities.of(item.extras)
    if named is None:
        return None
    for e in named.entities:
        hit = best_hit(target, e.names)
        if hit is not None:
            when = item.when.date().isoformat()
            return (
                f"• {when} · {named.citation} · {e.action} under {e.destination} as {e.name} · "
                f"{item.title}" + (f" · {item.link}" if item.link else "")
            )
    return None


def _change_line(item: Item, target: WatchTarget) -> str | None:
    facts = item.extras.get(SCREENING_KEY)
    if not isinstance(facts, dict):
        return None
    names = [n for n in [facts.get("name"), *(facts.get("alt_names") or [])] if isinstance(n, str)]
    if best_hit(target, names) is None:
        return None
    return f"• {item.when.date().isoformat()} · {item.title}"


def _on_the_list(session: Session, target: WatchTarget) -> list[str]:
    snapshot = session.runtime.screening.snapshot()
    if snapshot is None:
        return []
    return [_entry_line(e) for e in snapshot.entries if best_hit(target, e.names) is not None]


def _entry_line(entry: ScreeningEntry) -> str:
    where = ", ".join(country_name(c) for c in entry.countries[:3])
    since = f" since {entry.start_date.isoformat()}" if entry.start_date else ""
    cited = f", cited in {', '.join(entry.citations)}" if entry.citations else ""
    place = f" ({where})" if where else ""
    return f"• On the screening list ({entry.list_code}){since}: {entry.name}{place}{cited}"
