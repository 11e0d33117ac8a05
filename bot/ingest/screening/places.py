"""Destination names as an analyst reads them: "CN" and "CHINA, PEOPLE'S REPUBLIC OF" -> "China".

The CSL gives ISO 3166 codes at the end of addresses; the Entity List's table
gives BIS's upper-case destination names; digests use the short names BIS uses
in its summaries ("China", "Russia", "Iran"). Other codes get pycountry's common
or official name, other destination names title case.
"""

from __future__ import annotations

import re

__all__ = ["country_name", "destination_name"]

# BIS's short names where ISO's differ ("Russian Federation", "Taiwan, Province of China").
_SHORT = {
    "CN": "China",
    "RU": "Russia",
    "IR": "Iran",
    "TW": "Taiwan",
    "KR": "South Korea",
    "KP": "North Korea",
    "SY": "Syria",
    "VE": "Venezuela",
    "BO": "Bolivia",
    "MD": "Moldova",
    "VN": "Vietnam",
    "LA": "Laos",
    "TZ": "Tanzania",
    "HK": "Hong Kong",
    "MO": "Macau",
    "TR": "Türkiye",
    "PS": "Palestinian Territories",
    "CD": "Democratic Republic of the Congo",
    "GB": "United Kingdom",
    "US": "United States",
}
# BIS's table headings that are not "NAME" or "NAME, THE ... OF" read backwards.
_BIS_NAMES = {
    "china, people's republic of": "China",
    "korea, democratic people's republic of": "North Korea",
    "korea, south": "South Korea",
    "korea, republic of": "South Korea",
    "russia": "Russia",
    "burma": "Burma",
}


def country_name(code: str) -> str:
    """The short name of an ISO 3166 alpha-2 code; the code itself when unknown."""
    code = code.strip().upper()
    if code in _SHORT:
        return _SHORT[code]
    import pycountry  # 25 ms: loaded when a code is not one of ours (a poll never needs it)

    found = pycountry.countries.get(alpha_2=code) if re.fullmatch(r"[A-Z]{2}", code) else None
    if found is None:
        return code
    return str(getattr(found, "common_name", None) or found.name)


def destination_name(text: str) -> str:
    """BIS's destination heading ("CHINA, PEOPLE'S REPUBLIC OF") as a short name ("China")."""
    plain = " ".join(text.replace("’", "'").split()).strip(" ,.;:")
    known = _BIS_NAMES.get(plain.casefold())
    if known is not None:
        return known
    if len(plain) == 2 and plain.isupper():
        return country_name(plain)
    words = [
        w if w in ("of", "and", "the") else w[:1].upper() + w[1:] for w in plain.lower().split()
    ]
    return " ".join(words)
