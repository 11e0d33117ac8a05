"""What comes before a feed's root element: entity declarations refused, UTF-16/32 made searchable.

Documents whose DOCTYPE declares entities are refused before parsing: external
entities (XXE) and nested or huge internal ones (billion laughs, quadratic
blowup) have no place in a feed. feedparser also switches external entity
loading off and expat >= 2.4 caps entity amplification; the refusal keeps us
from depending on either.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["ascii_view", "refuse_entity_declarations"]

# Tokens met while walking the prolog (everything before the root element).
_PROLOG_TOKEN = re.compile(
    rb"<!--|<\?|<!ENTITY|<!(?:DOCTYPE|ELEMENT|ATTLIST|NOTATION)|<[A-Za-z_:\x80-\xff]",
    re.IGNORECASE,
)
# A markup declaration up to its end or to an internal subset's "[", skipping
# quoted literals, which may hold "<" or ">" (XML 1.0 §2.8).
_DECLARATION = re.compile(rb"<!\w+(?:[^>\"'\[]|\"[^\"]*\"|'[^']*')*")
_ENTITY_DECL = re.compile(rb"<!ENTITY\s+(%\s+)?([^\s>\"']{1,60})\s*([^>]*)>?", re.IGNORECASE)


def refuse_entity_declarations(body: bytes) -> str | None:
    """An error text when the prolog declares XML entities, else None."""
    prolog_bytes = ascii_view(body)
    pos = 0
    names: list[str] = []
    external = False
    while True:
        token = _PROLOG_TOKEN.search(prolog_bytes, pos)
        if token is None:
            break
        text = token.group().upper()
        if text in (b"<!--", b"<?"):
            end = prolog_bytes.find(b"-->" if text == b"<!--" else b"?>", token.end())
            if end < 0:
                break
            pos = end + 3 if text == b"<!--" else end + 2
        elif text.startswith(b"<!"):
            if text == b"<!ENTITY":
                entity = _ENTITY_DECL.match(prolog_bytes, token.start())
                names.append(entity.group(2).decode("latin-1") if entity else "?")
                if entity and re.match(rb"\s*(SYSTEM|PUBLIC)\b", entity.group(3), re.IGNORECASE):
                    external = True
            declaration = _DECLARATION.match(prolog_bytes, token.start())
            pos = max(token.end(), declaration.end() if declaration else 0)
        else:
            break  # the root element: the prolog is over
    if not names:
        return None
    shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    if external:
        return (
            f"refused: the DOCTYPE declares an external entity ({shown}); external entities are"
            " never resolved"
        )
    count = f"{len(names)} XML entit{'y' if len(names) == 1 else 'ies'}"
    return (
        f"refused: the DOCTYPE declares {count} ({shown}); feeds that declare entities are not"
        " parsed, to rule out entity-expansion bombs"
    )


def ascii_view(body: bytes) -> bytes:
    """The body with UTF-16/32 turned into UTF-8, so ASCII markup can be searched for."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, "replace").encode("utf-8")
    if body[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        codec = "utf-16-le" if body[0] == 0x3C else "utf-16-be"
        return body.decode(codec, "replace").encode("utf-8")
    return body
