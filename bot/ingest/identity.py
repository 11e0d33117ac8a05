"""Item identity: each entry's id, its second dedup key, and the keys release 0.1 gave it.

The id, first rule that applies:
- `fr:<number>` for Federal Register documents (the GUID is the html_url,
  whose title slug can change, while the document number cannot);
- `guid:<guid>`, a GUID that is an http(s) URL in its identity form
  (`links.identity_link`, fragment kept), so a permalink GUID that flips
  between http and https is one GUID; `guid:sha1:<hex>` past 200 characters;
- `guid-shared:<sha1>` when distinct entries of one document carry the same
  GUID (a CMS that gives every entry the feed's URL): each is told apart by
  its link and title (by title and text when it has no link). Entries equal
  in those too are repeats, and the first is kept;
- `link:<identity form of the link>`, so scheme flips, trailing slashes and
  tracking or session parameters that change on every poll change nothing;
- `hash:<sha1 of title and text>`, case- and whitespace-folded. Not the dates:
  feeds that give an entry neither GUID nor link often stamp it with the time
  of the request, which made it new on every poll.

The second key (`link_title_key`) is the sha1 of the link's identity form and
the title when an entry has both; an entry with a GUID that lacks one of them
gets the sha1 of link, title and text. It recognises the same entry
re-published under a new GUID, and an entry whose GUID stops (or starts)
being shared with others.

Former keys: the id and second key release 0.1 gave the entry
(`link:<canonical link>`, `guid:<GUID as given>`, `hash:<title, raw dates,
summary>`, sha1 of canonical link and title), also with the scheme flipped
and the trailing slash toggled (the two changes the identity form absorbs
that can be undone). They are looked up, never stored, so data written by
0.1 keeps its items known, and the store moves a re-seen item over to its
current keys (`Items.add`). A shared GUID's former `guid:` key is left out:
0.1 kept only the first entry carrying it, and looking it up would make
every later entry with that GUID known; that first entry is recognised by
its former link-and-title key instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from bot.ingest.links import identity_link
from bot.ingest.text import normalize_for_key
from bot.models import dedup_key

__all__ = ["GUID_MAX_CHARS", "EntryFacts", "Identity", "identify"]

GUID_MAX_CHARS = 200


class EntryFacts(NamedTuple):
    """What identity is made of, for one entry (tuples: made per entry, and quicker to make)."""

    guid: str | None  # as the feed gave it, stripped
    link: str | None  # canonical (`links.canonicalize_link`)
    title: str  # plain text, cut to the title limit; may be empty
    text: str  # the whole plain summary or content; may be empty
    raw_dates: str  # updated, published, created as written (0.1's hash); "" with GUID or link
    fr_number: str | None = None


class Identity(NamedTuple):
    id: str
    link_title_key: str | None
    former_keys: tuple[str, ...]


class _Keys(NamedTuple):
    guid: str | None  # the GUID's identity form
    link: str | None  # the link's identity form
    material: str  # sha1 of what tells entries sharing a GUID apart
    title_key: str
    text_key: str


def identify(feed_id: str, entries: Sequence[EntryFacts]) -> tuple[list[Identity], int]:
    """The identity of each entry of one document, and how many GUIDs distinct entries share."""
    keys = [_keys(facts) for facts in entries]
    materials: dict[str, set[str]] = {}
    for facts, key in zip(entries, keys, strict=True):
        if key.guid is not None and facts.fr_number is None:
            materials.setdefault(key.guid, set()).add(key.material)
    shared = {guid for guid, seen in materials.items() if len(seen) > 1}
    # dedup_key(feed_id, kind, value) is its prefix for (feed_id, kind) followed by value.
    prefixes = (dedup_key(feed_id, "id", ""), dedup_key(feed_id, "lt", ""))
    identities = [
        _identity(prefixes, facts, key, key.guid in shared if shared else False)
        for facts, key in zip(entries, keys, strict=True)
    ]
    return identities, len(shared)


def _keys(facts: EntryFacts) -> _Keys:
    link = identity_link(facts.link) if facts.link else None
    guid = None
    if facts.guid == facts.link and facts.guid:  # a permalink GUID, resolved: no fragment
        guid = link or facts.guid
    elif facts.guid:
        guid = identity_link(facts.guid, keep_fragment=True) or facts.guid
    title_key = normalize_for_key(facts.title)
    text_key = normalize_for_key(facts.text)
    if link and title_key:
        material = _sha1(f"{link}\n{title_key}")
    else:
        material = _sha1(f"{link or ''}\n{title_key}\n{text_key}")
    return _Keys(guid, link, material, title_key, text_key)


def _identity(prefixes: tuple[str, str], facts: EntryFacts, key: _Keys, shared: bool) -> Identity:
    if facts.fr_number:
        item_id = f"fr:{facts.fr_number}"
    elif key.guid and shared:
        item_id = f"guid-shared:{_sha1(f'{key.guid}{chr(10)}{key.material}')}"
    elif key.guid:
        item_id = _guid_id(key.guid)
    elif key.link:
        item_id = f"link:{key.link}"
    else:
        item_id = f"hash:{_sha1(f'{key.title_key}{chr(10)}{key.text_key}')}"
    link_title_key = key.material if (key.link and key.title_key) or key.guid else None
    return Identity(item_id, link_title_key, _former_keys(prefixes, facts, shared, key))


def _former_keys(
    prefixes: tuple[str, str], facts: EntryFacts, shared: bool, key: _Keys
) -> tuple[str, ...]:
    """The id and second key release 0.1 gave this entry, in the forms that may be stored.

    `prefixes` are `dedup_key`'s for the feed's "id" and "lt" keys.
    """
    ids: list[str] = []
    link_variants = _variants(facts.link) if facts.link else ()
    if facts.fr_number:
        pass  # unchanged since 0.1
    elif facts.guid:
        if not shared:
            variants = link_variants if facts.guid == facts.link else _variants(facts.guid)
            ids = [_guid_id(guid) for guid in variants]
    elif facts.link:
        ids = [f"link:{link}" for link in link_variants]
    else:
        ids = [f"hash:{_sha1(chr(10).join((facts.title, facts.raw_dates, facts.text)))}"]
    id_prefix, lt_prefix = prefixes
    keys = [id_prefix + item_id for item_id in ids]
    if facts.link and facts.title:
        # The sha1 of a variant that is the link's identity form is the entry's `material`
        # (`_keys`: made from the identity form and the same title key, when both are set).
        reuse = key.link if key.link and key.title_key else None
        suffix = f"\n{key.title_key}"
        keys += [
            lt_prefix + (key.material if link == reuse else _sha1(link + suffix))
            for link in link_variants
        ]
    return tuple(keys)


def _variants(url: str) -> tuple[str, ...]:
    """`url` as given, with http and https swapped, and with the path's final slash toggled.

    String surgery rather than a parse: the result must be byte for byte what
    release 0.1 may have stored. A root path and a text that is not an
    http(s) URL are left as they are.
    """
    scheme, sep, rest = url.partition("://")
    lower = scheme.lower()
    if not sep or (lower != "http" and lower != "https"):
        return (url,)
    other = "https" if lower == "http" else "http"
    cut = len(rest)
    for mark in "?#":  # up to the first of them
        found = rest.find(mark, 0, cut)
        if found >= 0:
            cut = found
    where, tail = rest[:cut], rest[cut:]
    slash = where.find("/")
    if slash < 0 or where[slash:] == "/":
        return (f"{scheme}://{rest}", f"{other}://{rest}")
    toggled = where[:-1] if where.endswith("/") else f"{where}/"
    # (Four distinct texts: the schemes differ, and so do the two paths.)
    return (
        f"{scheme}://{rest}",
        f"{scheme}://{toggled}{tail}",
        f"{other}://{rest}",
        f"{other}://{toggled}{tail}",
    )


def _guid_id(guid: str) -> str:
    return f"guid:{guid}" if len(guid) <= GUID_MAX_CHARS else f"guid:sha1:{_sha1(guid)}"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
