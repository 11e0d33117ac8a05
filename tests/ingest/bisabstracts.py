"""The real BIS Federal Register abstracts of tests/fixtures/entitylist/real_abstracts.json.

`EXPECTED` holds what each Entity List abstract states, written by reading it,
not by running the code.
"""

from __future__ import annotations

import json

from tests.support import paths

FIXTURE = paths.FIXTURES / "entitylist" / "real_abstracts.json"
DOCUMENTS = json.loads(FIXTURE.read_text(encoding="utf-8"))["documents"]
BIS = ("Commerce Department, Industry and Security Bureau",)
UAE = "United Arab Emirates"

# document number -> (action, added, revised, removed, destinations)
EXPECTED: dict[str, tuple[str, int | None, int | None, int | None, list[tuple[str, int]]]] = {
    "2025-00480": ("additions", 16, None, None, [("China", 14), ("Singapore", 2)]),
    # "modifies four existing entries"; destinations separated by semicolons.
    "2025-05426": (
        "additions and revisions",
        70,
        4,
        None,
        [("China", 42), ("Iran", 2), ("Pakistan", 19), ("South Africa", 3), (UAE, 4)],
    ),
    # "adding 11 entries" (no count of entities: see ENTRIES); "the Russian Federation
    # (Russia) (3)"; "modifies one existing entity".
    "2024-07760": (
        "additions and revisions",
        None,
        1,
        None,
        [("China", 6), ("Russia", 3), (UAE, 2)],
    ),
    "2025-00704": ("additions and revisions", 11, 1, None, [("China", 11)]),
    "2023-12726": (
        "additions and removals",
        43,
        None,
        1,
        [
            *[("China", 31), ("Kenya", 1), ("Laos", 1), ("Malaysia", 1), ("Pakistan", 4)],
            *[("Singapore", 1), ("South Africa", 3), ("Thailand", 1), (UAE, 5)],
            ("United Kingdom", 2),
        ],
    ),
    # "two entities under seven entries"; the destination counts are entries.
    "2024-03674": (
        "additions, revisions and removals",
        2,
        2,
        1,
        [
            ("Canada", 1),
            ("China", 1),
            ("India", 1),
            ("Japan", 1),
            ("Malaysia", 1),
            ("Sweden", 1),
            (UAE, 1),
        ],
    ),
    # "revises eleven existing entries ... and corrects one existing entry" = 12;
    # "removes two entities and one address"; destinations named without counts.
    "2022-14069": ("additions, revisions and removals", 36, 12, 2, []),
    "2020-03157": ("additions and revisions", 24, 5, None, []),
    # "revises an entry" (1) + "amends 27 existing entries" (27); "removing two addresses"
    # removes no entity; "India, (1)" has a stray comma; the second destination list
    # (corrected entries) is not the additions'.
    "2025-17893": (
        "additions and revisions",
        32,
        28,
        None,
        [
            ("China", 23),
            ("India", 1),
            ("Iran", 1),
            ("Singapore", 1),
            ("Taiwan", 1),
            ("Turkey", 3),
            (UAE, 2),
        ],
    ),
    "2023-04558": (
        "additions and revisions",
        37,
        10,
        None,
        [
            ("Belarus", 1),
            ("Burma", 3),
            ("China", 28),
            ("Pakistan", 4),
            ("Russia", 1),
            ("Taiwan", 1),
        ],
    ),
    "2023-07840": (
        "additions and revisions",
        28,
        2,
        None,
        [
            ("Armenia", 1),
            ("China", 12),
            ("Malta", 1),
            ("Russia", 10),
            ("Singapore", 1),
            ("Spain", 1),
            ("Syria", 1),
            ("Turkey", 1),
            (UAE, 2),
            ("Uzbekistan", 2),
        ],
    ),
    "2024-03969": (
        "additions",
        93,
        None,
        None,
        [
            ("China", 8),
            ("India", 1),
            ("Kyrgyzstan", 2),
            ("Russia", 63),
            ("South Korea", 1),
            ("Turkey", 16),
            (UAE, 4),
        ],
    ),
    "2023-22536": (
        "additions",
        49,
        None,
        None,
        [
            ("China", 42),
            ("Estonia", 1),
            ("Finland", 1),
            ("Germany", 1),
            ("India", 3),
            ("Turkey", 2),
            (UAE, 1),
            ("United Kingdom", 1),
        ],
    ),
    # A single destination without a count holds every added entity.
    "2024-10485": ("additions", 37, None, None, [("China", 37)]),
    "2021-07400": ("additions", 7, None, None, [("China", 7)]),
    "2021-04794": ("additions", 4, None, None, [("Burma", 4)]),
    # "corrects six existing entries" is a revision; three destinations, no counts.
    "2021-04505": ("additions and revisions", 14, 6, None, []),
    # The MEU List addition and removals are another list.
    "2021-00995": ("additions", 1, None, None, [("China", 1)]),
    "2023-21080": ("additions and revisions", 28, 2, None, []),
    # "removing one entity"; "removing six aliases" removes no entity.
    "2025-19858": ("revisions and removals", None, None, 1, []),
    # Titled "Revisions", but the abstract adds 13; "editorial corrections" are not counted.
    "2024-31468": (
        "additions and revisions",
        13,
        None,
        None,
        [("Burma", 1), ("China", 11), ("Pakistan", 1)],
    ),
    # "adding an inadvertently omitted entity"; the title names additions, removal, correction.
    "2023-13196": ("additions, revisions and removals", 1, None, None, []),
    # "That final rule amended ... by adding a new entry" describes the corrected rule.
    "2022-07643": ("additions and revisions", None, None, None, []),
    "2022-03029": ("additions and revisions", 7, 4, None, []),
}

# document number -> the entries the additions were made under, where the abstract says
# ("adding 43 entities under 50 entries", or "adding 11 entries"); the others say none.
ENTRIES: dict[str, int] = {
    "2024-07760": 11,
    "2025-00704": 11,
    "2023-12726": 50,
    "2024-03674": 7,
    "2022-14069": 41,
    "2023-04558": 38,
    "2023-07840": 32,
    "2024-03969": 95,
    "2023-22536": 52,
    "2024-10485": 37,
    "2024-31468": 13,
    "2022-03029": 7,
}
