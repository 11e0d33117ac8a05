"""Entity List facts (how many added, revised, removed, and where) from BIS Federal Register text.

BIS abstracts follow a house style: "BIS amends the EAR by adding 36 entities to
the Entity List, under the destinations of China, People's Republic of (China)
(30), Japan (1) ...". This module reads them. It is pure, caps its input
(MAX_TITLE, MAX_TEXT), uses only linear patterns, and never raises on text.

- Only BIS items count: an author naming the Industry and Security Bureau (the
  FR RSS `dc:creator`), or, with no authors, a feed id or abstract naming BIS or
  the EAR. DHS's "UFLPA Entity List" and China's export control list differ.
- A clause about another list ("adding one entity to the Military End-User
  (MEU) List") is ignored, in title and abstract; so is a sentence opening with
  "That", which in BIS corrections describes the earlier rule. Past tenses
  ("were added") never count.
- Counts are summed per action; modified, amended and corrected entries are
  revisions ("revises eleven existing entries ... and corrects one" is 12).
- Additions are counted as the rule counts them: entities ("adding 36
  entities"), entries ("adding 11 entries"), or both ("adding two entities
  under seven entries"). BIS's per-destination figures count entries, so the
  summary line names the entries whenever they differ from the entities
  ("2 entities added, 7 entries: Canada 1, ...") and the figures add up.
- Destinations come from the first list naming any (the additions, in BIS
  abstracts); later lists are ignored. A lone destination without a count gets
  the whole added count. `action` joins the title's actions and counted ones.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.models import Item, replace

EXTRAS_KEY = "entity_list"
MAX_TITLE = 1_000
MAX_TEXT = 20_000
MAX_SUMMARY_DESTINATIONS = 8
_ACTIONS = ("additions", "revisions", "removals")

_UNITS = re.findall(
    r"\w+",
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen",
)
_TENS = re.findall(r"\w+", "twenty thirty forty fifty sixty seventy eighty ninety")
_WORD_VALUES = {"a": 1, "an": 1} | {w: i for i, w in enumerate(_UNITS)}
_WORD_VALUES |= {w: 20 + 10 * i for i, w in enumerate(_TENS)}
_NUMBER = (
    rf"[0-9]{{1,4}}|(?:{'|'.join(_TENS)})(?:[- ](?:{'|'.join(_UNITS[1:10])}))?"
    rf"|{'|'.join(sorted(_UNITS, key=len, reverse=True))}|an?"
)
_COUNT = re.compile(
    r"\b(?:(?P<additions>add|adds|adding)|(?P<revisions>revise|revises|revising|modify|modifies"
    r"|modifying|amend|amends|amending|correct|corrects|correcting)|(?P<removals>remove|removes"
    rf"|removing))\s+(?:a\s+total\s+of\s+)?(?P<num>{_NUMBER})\s+(?:\([0-9]{{1,4}}\)\s+)?"
    r"(?:(?:existing|additional|inadvertently|omitted|new|single|more|other|certain)\s+){0,3}"
    r"(?:entit(?:y|ies)|(?P<entries>entr(?:y|ies))|persons?|part(?:y|ies)|compan(?:y|ies)"
    r"|organizations?|individuals?)\b",
    re.IGNORECASE,
)
# What follows "adding two entities" when the rule also counts entries: " under seven entries".
_UNDER_ENTRIES = re.compile(
    rf"\s+(?:under|in)\s+(?P<num>{_NUMBER})\s+(?:\([0-9]{{1,4}}\)\s+)?entr(?:y|ies)\b",
    re.IGNORECASE,
)
_LIST_WORD = re.compile(r"\blists?\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"\.(?:\s|$)|;")
_TITLE_LIST = re.compile(r"(?:^|\bthe\s+)entity[\s-]+list\b", re.IGNORECASE)
_TITLE_SPLIT = re.compile(r"[;,]|\band\b", re.IGNORECASE)
_TITLE_ACTION = re.compile(
    r"\b(?:(?P<additions>add(?:ition|itions|s|ing)?)|(?P<removals>remov(?:al|als|e|es|ing))"
    r"|(?P<revisions>(?:revis|modif|amend|correct)[a-z]*))\b",
    re.IGNORECASE,
)
# "under the destinations of", "under the following destinations:", or "in China (5)".
_ANCHOR = re.compile(
    r"\b(?i:destinations?)\b(?:\s+of\b)?:?"
    r"|\b(?:in|under)\s+(?=(?:the\s+)?[A-Z][\w'.-]*(?:,?\s+(?:of\b|[A-Z][\w'.-]*)){0,6}"
    r"\s*(?:\([^()0-9]{1,30}\)\s*)?\([0-9])"
)
_COUNTED = re.compile(r"\(\s*([0-9]{1,4})\s*\)")
_SENTENCE_BREAK = re.compile(r"\.\s+[A-Z]|\.$")
_SINGLE_END = re.compile(r"\.(?:\s|$)|;|\s+and\s+(?:have|has|are|is|will)\b")
_LEAD = re.compile(r"^[\s,;:]*(?:and\s+)?(?:the\s+)?", re.IGNORECASE)
_SHORT_FORM = re.compile(r"(.*?)\s*\(([^()]{1,30})\)")
_ACRONYM = re.compile(r"[A-Z.]{2,}")
_NAME = re.compile(r"[^\W\d_][^\d()]{0,59}")
_BIS_AUTHOR = re.compile(r"(?i:industry\s+and\s+security)|\bBIS\b")
_BIS_FEED = re.compile(r"(?:^|[^a-z0-9])(?:bis|federal-?register|fedreg)(?:$|[^a-z0-9])", re.I)
_UMLAUT = re.compile(r"\[([a-zA-Z])uml\]")  # the FR API writes "T[uuml]rkiye"
_BIS_TEXT = re.compile(r"Bureau of Industry and Security|Export Administration Regulations|\(EAR\)")


@dataclass(frozen=True)
class EntityListFacts:
    """What one BIS document does to the Entity List; a count is None when not stated.

    `added` counts entities added and `entries` the entries they were added
    under, each when the rule states it; `destinations` are BIS's figures per
    destination, which count entries.
    """

    action: str
    added: int | None = None
    revised: int | None = None
    removed: int | None = None
    destinations: tuple[tuple[str, int], ...] = ()
    entries: int | None = None

    def as_extras(self) -> dict[str, object]:
        """A JSON-safe dict for `Item.extras["entity_list"]`; `summary` is kept for templates."""
        return {
            "action": self.action,
            "added": self.added,
            "entries": self.entries,
            "revised": self.revised,
            "removed": self.removed,
            "destinations": [[name, count] for name, count in self.destinations],
            "summary": self.summary(),
        }

    @classmethod
    def from_extras(cls, data: object) -> EntityListFacts:
        """Rebuild from `as_extras()` output (JSON lists welcome); ValueError says what is wrong."""
        if not isinstance(data, Mapping) or not isinstance(data.get("action"), str):
            raise ValueError(f"entity_list extras: need a mapping with an 'action': {_show(data)}")
        counts = [data.get(key) for key in ("added", "revised", "removed", "entries")]
        pairs = data.get("destinations") or []
        pairs = pairs if isinstance(pairs, list | tuple) else [pairs]
        bad = [n for n in counts if n is not None and not _is_count(n)]
        bad += [pair for pair in pairs if not _is_pair(pair)]
        if bad:
            raise ValueError(
                f"entity_list extras: counts must be integers >= 0 or null and destinations "
                f"[name, count] pairs, got {_show(bad[0])}"
            )
        added, revised, removed, entries = counts
        destinations = tuple((p[0], p[1]) for p in pairs)
        return cls(data["action"], added, revised, removed, destinations, entries)

    def summary(self) -> str:
        """One short line: "36 entities added: China 30, Japan 1; 2 revised" or "5 removed".

        The figures per destination count entries: where the rule adds more
        entries than entities, the line says so ("2 entities added, 7 entries:
        Canada 1, ..."), and a rule that counts only entries is worded in
        entries ("11 entries added: China 6, ...").
        """
        parts = [self._added()] if self.added is not None or self.entries is not None else []
        counted = ((self.revised, "revised"), (self.removed, "removed"))
        parts += [f"{n} {what}" for n, what in counted if n is not None]
        parts = parts or [f"Entity List {self.action}".rstrip()]
        shown = self.destinations[:MAX_SUMMARY_DESTINATIONS]
        if shown:
            parts[0] += ": " + ", ".join(f"{name} {count}" for name, count in shown)
        if len(self.destinations) > len(shown):
            parts[0] += f" and {len(self.destinations) - len(shown)} more"
        return "; ".join(parts)

    def _added(self) -> str:
        """ "36 entities added", "2 entities added, 7 entries" or "11 entries added".

        Figures per destination that add up to more than the entities added
        count entries too (an entity listed under two destinations), and are
        summed as such when the rule gives no count of entries.
        """
        number = self.entries
        if number is None and self.added is not None:
            listed = sum(count for _, count in self.destinations)
            number = listed if listed > self.added else None
        entries = None if number is None else _counted(number, "entry", "entries")
        if self.added is None:
            return f"{entries} added"
        added = f"{_counted(self.added, 'entity', 'entities')} added"
        return added if number in (None, self.added) else f"{added}, {entries}"


def _counted(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def is_entity_list_title(title: str) -> bool:
    """True for a title about changes to the Entity List, whatever its case or punctuation."""
    text = _clean(title, MAX_TITLE)
    return bool(_TITLE_LIST.search(text)) and bool(_title_actions(text))


def extract_entity_list(
    title: str, summary: str, *, feed_id: str = "", authors: Sequence[str] = ()
) -> EntityListFacts | None:
    """The Entity List facts of a BIS document, else None (not BIS, not the Entity List)."""
    title = _clean(title, MAX_TITLE)
    actions = _title_actions(title) if _TITLE_LIST.search(title) else set()
    text = _clean(summary, MAX_TEXT)
    if not actions or not _from_bis(text, feed_id, authors):
        return None
    counts, entries = _read_counts(text)
    ordered = [
        name
        for name in _ACTIONS
        if name in actions or counts[name] or (name == "additions" and entries)
    ]
    added = counts["additions"]
    return EntityListFacts(
        action=ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} and {ordered[-1]}",
        added=added,
        revised=counts["revisions"],
        removed=counts["removals"],
        destinations=_read_destinations(text, entries if added is None else added),
        entries=entries,
    )


def annotate_item(item: Item) -> Item:
    """The item with `extras["entity_list"]` set when it carries Entity List facts, else `item`."""
    facts = extract_entity_list(
        item.title, item.summary, feed_id=item.feed_id, authors=item.authors
    )
    if facts is None:
        return item
    return replace(item, extras={**item.extras, EXTRAS_KEY: facts.as_extras()})


def _clean(text: object, limit: int) -> str:
    if not isinstance(text, str):
        return ""
    text = html.unescape(text[:limit])  # FR RSS descriptions come double-escaped (&amp;#39;)
    text = re.sub(r"<[^<>]{0,500}>", " ", text)
    text = _UMLAUT.sub(lambda m: unicodedata.normalize("NFC", f"{m[1]}\u0308"), text)
    return " ".join(text.replace("\u2019", "'").split())


def _title_actions(title: str) -> set[str]:
    actions = set()
    for clause in _TITLE_SPLIT.split(title):
        if _LIST_WORD.search(clause) and not re.search(r"entity[\s-]+list", clause, re.I):
            continue  # "Removals From the MEU List"
        actions |= {name for m in _TITLE_ACTION.finditer(clause) for name in _ACTIONS if m[name]}
    return actions


def _from_bis(text: str, feed_id: object, authors: object) -> bool:
    if isinstance(authors, Sequence) and not isinstance(authors, str) and authors:
        return any(isinstance(a, str) and _BIS_AUTHOR.search(a[:300]) for a in authors[:20])
    by_feed = isinstance(feed_id, str) and _BIS_FEED.search(feed_id[:200])
    return bool(by_feed or _BIS_TEXT.search(text))


def _read_counts(text: str) -> tuple[dict[str, int | None], int | None]:
    """The counts per action, and the entries the additions were made under (when stated)."""
    counts: dict[str, int | None] = dict.fromkeys(_ACTIONS)
    entries: int | None = None
    for match in _COUNT.finditer(text):
        number = _parse_number(match["num"])
        end = match.end()
        under = _UNDER_ENTRIES.match(text, end) if match["additions"] else None
        if under is not None:
            end = under.end()
        if number is None or not _about_entity_list(text, end):
            continue
        if _sentence_head(text, match.start()).lstrip().startswith("That "):
            continue
        action = next(name for name in _ACTIONS if match[name])
        if action == "additions" and match["entries"]:
            entries = (entries or 0) + number  # "adding 11 entries": entries, not entities
            continue
        counts[action] = (counts[action] or 0) + number
        in_entries = _parse_number(under["num"]) if under is not None else None
        if in_entries is not None:
            entries = (entries or 0) + in_entries
    return counts, entries


def _parse_number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    # casefold: under IGNORECASE the pattern also matched "ſeven" (long s) and the like.
    values = [_WORD_VALUES.get(part.casefold()) for part in re.split(r"[- ]", word)]
    return None if None in values else sum(v for v in values if v is not None)


def _sentence_head(text: str, position: int) -> str:
    return text[text.rfind(". ", 0, position) + 1 : position]


def _about_entity_list(text: str, end: int) -> bool:
    """False when the rest of the clause names a list other than the Entity List."""
    window = text[end : end + 200]
    stop = _CLAUSE_END.search(window)
    window = window[: stop.start()] if stop else window
    found = _LIST_WORD.search(window)
    return found is None or window[: found.start()].rstrip(" -").lower().endswith("entity")


def _read_destinations(text: str, added: int | None) -> tuple[tuple[str, int], ...]:
    anchor = _ANCHOR.search(text)
    if anchor is None:
        return ()
    rest = text[anchor.end() : anchor.end() + 2_000]
    found: list[tuple[str, int]] = []
    position = 0
    for counted in _COUNTED.finditer(rest):
        piece = rest[position : counted.start()]
        name = _short_name(piece)
        if _SENTENCE_BREAK.search(piece) or not name:
            break
        found.append((name, int(counted[1])))
        position = counted.end()
    head = _sentence_head(text, anchor.start())
    if found or not added or any(m["revisions"] or m["removals"] for m in _COUNT.finditer(head)):
        return tuple(found)
    # A lone destination without a count ("under the destination of Burma.") has them all.
    end = _SINGLE_END.search(rest)
    clause = rest[: end.start()] if end else rest[:80]
    bare = re.sub(r"\([^()]*\)", "", clause).strip()
    if " and " in bare or any(not part.endswith(" of") for part in bare.split(", ")[1:]):
        return ()
    name = _short_name(clause)
    return ((name, added),) if name else ()


def _short_name(piece: str) -> str:
    """ "; and the Russian Federation (Russia) " -> "Russia"; an acronym keeps the long name."""
    name = _LEAD.sub("", piece).rstrip(" ,;:")
    short = _SHORT_FORM.fullmatch(name)
    if short:
        name = short[1].rstrip(" ,") if _ACRONYM.fullmatch(short[2].strip()) else short[2].strip()
    if ", " in name and name.endswith(" of"):  # "Korea, Republic of" -> "Republic of Korea"
        first, _, rest = name.partition(", ")
        name = f"{rest} {first}"
    return name if name[:1].isupper() and _NAME.fullmatch(name) else ""


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_pair(value: object) -> bool:
    pair = value if isinstance(value, list | tuple) and len(value) == 2 else (None, None)
    return isinstance(pair[0], str) and _is_count(pair[1])


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
