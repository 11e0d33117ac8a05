"""The feed farm's rewriting: one recorded feed made into many distinct feeds, and new items.

Feeds are rewritten without parsing them (byte-level regular expressions), so
that the farm serves the recorded bytes, quirks included, and no two feeds are
alike:

- every GUID, Atom id and link gets a marker of its feed (`?bbf=N`, or `-bbfN`
  for an id that is not a URL), and Federal Register document numbers are
  renumbered per feed, so items are distinct across feeds as they would be in
  1,000 different feeds;
- two words of every title are swapped for other real title words, so the
  same story does not appear under one title in 30 feeds (the bot would link
  them all as one story, which real feeds rarely do).

A new item (`vary_entry`) is a copy of a feed's first item with a new title,
new ids, a new document number and the given date. Every choice is seeded, so
a feed number always gets the same rewriting.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Sequence
from datetime import datetime

from bench.corpus import FeedFile

__all__ = ["ENTRY_RE", "title_vocabulary", "vary_entry", "vary_feed"]

ENTRY_RE = re.compile(rb"<(item|entry)\b[^>]*>.*?</\1>", re.DOTALL)
_TITLE_RE = re.compile(rb"(<title\b[^>]*>)(.*?)(</title>)", re.DOTALL)
# A word of a title that can be swapped: letters only, between spaces or punctuation,
# never part of an entity (&quot;) or of a CDATA marker.
_WORD_RE = re.compile(rb"(?<=[\s(\"])[A-Za-z]{4,}(?=[\s,.:;!?)\"])")
# guid, id and link elements with text content; `(?<!/)>` leaves out <link href=".."/>.
_ID_ELEMENT_RE = re.compile(rb"(<(guid|id|link)\b[^>]*(?<!/)>)(.*?)(</\2>)", re.DOTALL)
_URL_ATTR_RE = re.compile(rb"""\b(href|rdf:about|rdf:resource)="(https?://[^"]*)\"""")
_FR_NUMBER_RE = re.compile(rb"\b(20\d\d)-(\d{5})\b")
_DATE_RE = re.compile(
    rb"(<(pubDate|updated|published|dc:date|a10:updated)\b[^>]*>)(.*?)(</\2>)", re.DOTALL
)
_CDATA_START, _CDATA_END = b"<![CDATA[", b"]]>"


def _marked_url(url: bytes, marker: bytes) -> bytes:
    """`url` with a query parameter `marker` added (before any fragment); XML-escaped `&`."""
    base, hash_mark, fragment = url.partition(b"#")
    joiner = b"&amp;" if b"?" in base else b"?"
    return base + joiner + marker + hash_mark + fragment


def _mark_id_text(text: bytes, marker: bytes) -> bytes:
    stripped = text.strip()
    if stripped.startswith(_CDATA_START) and stripped.endswith(_CDATA_END):
        inner = stripped[len(_CDATA_START) : -len(_CDATA_END)]
        return _CDATA_START + _mark_id_text(inner, marker) + _CDATA_END
    if not stripped:
        return text
    if re.match(rb"https?://", stripped):
        return _marked_url(stripped, marker)
    return stripped + b"-" + marker.replace(b"=", b"")


def _mark_ids(body: bytes, marker: bytes) -> bytes:
    """Every GUID, Atom id and link (element text or href/rdf:about attribute) marked."""
    body = _ID_ELEMENT_RE.sub(
        lambda m: m.group(1) + _mark_id_text(m.group(3), marker) + m.group(4), body
    )
    return _URL_ATTR_RE.sub(
        lambda m: m.group(1) + b'="' + _marked_url(m.group(2), marker) + b'"', body
    )


def _renumber(body: bytes, offset: int) -> bytes:
    """Federal Register document numbers (2025-15432) shifted by `offset`, per year."""
    return _FR_NUMBER_RE.sub(
        lambda m: m.group(1) + b"-" + b"%05d" % ((int(m.group(2)) + offset) % 100_000), body
    )


def _swap_title_words(
    body: bytes, rng: random.Random, vocabulary: Sequence[bytes], *, least: int, share: float
) -> bytes:
    """Swap `share` of each title's words (at least `least`) for vocabulary words."""

    def swap(match: re.Match[bytes]) -> bytes:
        text = match.group(2)
        words = list(_WORD_RE.finditer(text))
        if not words or not vocabulary:
            return match.group(0)
        count = min(len(words), max(least, round(share * len(text.split()))))
        chosen = sorted(rng.sample(range(len(words)), count))
        out, last = [], 0
        for index in chosen:
            word = words[index]
            out += [text[last : word.start()], rng.choice(vocabulary)]
            last = word.end()
        out.append(text[last:])
        return match.group(1) + b"".join(out) + match.group(3)

    return _TITLE_RE.sub(swap, body)


def title_vocabulary(files: Sequence[FeedFile]) -> list[bytes]:
    """Every swappable word of every title in `files`, sorted (deterministic choices)."""
    words: set[bytes] = set()
    for feed in files:
        for match in _TITLE_RE.finditer(feed.body):
            words.update(w.group(0) for w in _WORD_RE.finditer(match.group(2)))
    return sorted(words)


def vary_feed(body: bytes, index: int, vocabulary: Sequence[bytes]) -> bytes:
    """Recorded feed `body` made into feed number `index` (see the module docstring)."""
    rng = random.Random(index)
    body = _mark_ids(body, b"bbf=%d" % index)
    body = _renumber(body, index * 1009)
    return _swap_title_words(body, rng, vocabulary, least=2, share=0.25)


def vary_entry(
    entry: bytes,
    *,
    feed: int,
    version: int,
    number: int,
    vocabulary: Sequence[bytes],
    now: datetime,
) -> bytes:
    """A new item made from `entry` (the feed's first): new title, ids, number and date."""
    rng = random.Random(f"{feed}/{version}/{number}")
    entry = _mark_ids(entry, b"bbn=%d.%d" % (version, number))
    entry = _renumber(entry, 50_000 + version * 101 + number * 7)
    entry = _swap_title_words(entry, rng, vocabulary, least=4, share=0.5)
    rfc822 = email.utils.format_datetime(now, usegmt=True).encode()
    iso = now.strftime("%Y-%m-%dT%H:%M:%SZ").encode()

    def redate(match: re.Match[bytes]) -> bytes:
        value = rfc822 if match.group(2) == b"pubDate" else iso
        return match.group(1) + value + match.group(4)

    return _DATE_RE.sub(redate, entry)
