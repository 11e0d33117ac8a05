"""Federal Register citations as the CSL writes them, normalised to "83 FR 37423".

The CSL's `federal_register_notice` has grown several styles over the years:
"83 FR 37423", "82 F.R. 48792 10/20/2017", "80.F.R. 1234 9/10/2015", "66 FR 24266
(5/14/2001), 77 FR 58006 (no. 182)", "83 FR 1234; 87 FR 77505", "79 F.R. 56003,
56004 9/18/2014" (a second page of the same volume) and "Vol. 88, No. 151,
08/08/2023", which names an issue and no page and so cannot be a citation.
`citations` finds every volume + page pair in order, once each; a text with
none gives (). Linear patterns only, input capped at MAX_TEXT.
"""

from __future__ import annotations

import re

__all__ = ["MAX_TEXT", "citations", "normalise_citation"]

MAX_TEXT = 2_000

# "83 FR 37423", "82 F.R. 48792", "80.F.R. 1234", "83 FR  37423", "76 F.R 1234".
_CITATION = re.compile(r"\b(\d{1,3})\s*\.?\s*F\.?\s?R\.?\s+(\d{1,6})\b((?:\s*,\s*\d{3,6}\b(?!/))*)")
_MORE_PAGES = re.compile(r"\d{3,6}")


def citations(text: object) -> tuple[str, ...]:
    """Every citation in `text`, normalised ("83 FR 37423"), in order and without repeats."""
    if not isinstance(text, str):
        return ()
    found: list[str] = []
    for match in _CITATION.finditer(text[:MAX_TEXT]):
        volume = int(match[1])
        pages = [match[2], *_MORE_PAGES.findall(match[3] or "")]
        for page in pages:
            cited = f"{volume} FR {int(page)}"
            if cited not in found:
                found.append(cited)
    return tuple(found)


def normalise_citation(text: str) -> str | None:
    """The one citation `text` is ("89 F.R. 1064" -> "89 FR 1064"), or None when it is not one."""
    found = citations(text)
    return found[0] if len(found) == 1 else None
