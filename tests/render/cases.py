"""What the render tests share: a small digest's items, search hits, hostile feed text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from hypothesis import strategies as st

from bot.ingest.entitylist import EntityListFacts
from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts
from bot.models import UTC, DigestSection, DigestView, Item, SlackMessage

FEED_NAMES = {
    "fr-bis": "Federal Register: BIS",
    "fr-entity-list": "Federal Register: Entity List search",
    "chipwire": "ChipWire",
    "nikkei-asia": "Nikkei Asia",
    "meti": "METI news releases",
    "fr-ofac": "Federal Register: OFAC",
}
T0 = datetime(2025, 9, 16, 4, 0, tzinfo=UTC)
DATE_LABEL = "Tuesday 16 September 2025"

ENTITY = Item(
    id="2025-17893",
    feed_id="fr-bis",
    title="Additions to the Entity List",
    summary=(
        "In this rule, BIS amends the EAR by adding 36 entities to the Entity List under "
        "the destinations of China (30), Japan (1) and Singapore (5)."
    ),
    link="https://www.federalregister.gov/documents/2025/09/16/2025-17893/additions-to-the-entity-list",
    published=T0,
    extras={
        "entity_list": EntityListFacts(
            "additions", added=36, destinations=(("China", 30), ("Japan", 1), ("Singapore", 5))
        ).as_extras(),
        "also_in": ["fr-entity-list"],
        # What the enrichment stores (bot/ingest/fedreg/): shown as the item's first line.
        EXTRAS_KEY: FederalRegisterFacts(
            document_number="2025-17893",
            type="Rule",
            action="Final rule.",
            cfr_parts=("15 CFR 744",),
            effective_on=T0.date(),
            comments_close_on=date(2025, 10, 16),
        ).as_extras(),
    },
)
# The same story carried by three feeds: shown once, naming the others.
DUPLICATE = Item(
    id="cw-881",
    feed_id="chipwire",
    title="Samsung & SK Hynix get a one-year waiver for their China fabs",
    summary="The US extends the validated end-user status of both companies' plants.",
    link="https://chipwire.example/news/881?src=rss&lang=en",
    published=T0 - timedelta(hours=5),
    extras={"also_in": ["nikkei-asia", "reuters-tech"]},
)
RAPIDUS = Item(
    id="na-12",
    feed_id="nikkei-asia",
    title="Rapidus starts its 2nm pilot line in Hokkaido",
    link="https://asia.nikkei.example/Business/Tech/Semiconductors/Rapidus-2nm",
    published=T0 - timedelta(hours=9, minutes=30),
)
METI = Item(
    id="meti-0916",
    feed_id="meti",
    title="METI designates 'specified critical materials' under the Economic Security Act",
    link="https://www.meti.go.jp/english/press/2025/0916_001.html",
    published=T0 - timedelta(days=1),
)
# Matches no topic: one of the digest's "Other new items".
OFAC = Item(
    id="2025-14721",
    feed_id="fr-ofac",
    title="Notice of OFAC Sanctions Actions",
    summary=(
        "The U.S. Department of the Treasury's Office of Foreign Assets Control (OFAC) is "
        "publishing the name of one person that has been placed on OFAC's Specially "
        "Designated Nationals and Blocked Persons List (SDN List)."
    ),
    link="https://www.federalregister.gov/d/2025-14721",
    published=T0 - timedelta(hours=2),
)
DIGEST = DigestView(
    channel="C0123456789",
    date_label=DATE_LABEL,
    sections=(
        DigestSection("entity-list", "Entity List updates", (ENTITY,)),
        DigestSection("chips", "Semiconductors", (DUPLICATE, RAPIDUS)),
        DigestSection("japan-esl", "Japan economic security", (METI,)),
    ),
    more_count=4,
    others=(OFAC,),
    others_count=3,
    others_hint="/brief latest others",
    period_label="since Monday 15 September, 08:30 JST",
    summaries=True,
)


@dataclass(frozen=True)
class Hit:
    """A search hit as search.py makes them (the renderer's SearchHitLike protocol)."""

    item: Item
    snippet: str
    spans: Sequence[tuple[int, int]]
    also_in: tuple[str, ...] = ()


def spans_of(text: str, *words: str) -> list[tuple[int, int]]:
    return [(text.index(w), text.index(w) + len(w)) for w in words]


def texts_of(msg: SlackMessage) -> list[str]:
    """Every text Slack reads in a message: the fallback and each text object."""
    found = [msg.text]
    for block in msg.blocks:
        for obj in [block.get("text"), *block.get("elements", ()), *block.get("fields", ())]:
            if isinstance(obj, dict):
                text = obj["text"]  # a button's is a text object of its own
                found.append(text["text"] if isinstance(text, dict) else text)
    return found


def block_texts(messages: Sequence[SlackMessage]) -> list[str]:
    return [t for m in messages for t in texts_of(m)[1:]]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


NASTY = [
    "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123|general>",
    "<https://evil.example|click>", "<javascript:alert(1)|x>", "<!date^1^{time}|x>",
    "&amp;", "&lt;", "&", "<", ">", "|", "^", "*bold*", "_it_", "~s~", "`", "```",
    "\u202e", "\u2067", "\u200f", "مرحبا بالعالم", "שלום עולם", "😀", "👩‍👩‍👧", "\x00", "\x01",
    "\n", "\t", "x" * 5000, "word " * 700, "&#39;", "{{ x }}", "{% raw %}",
]  # fmt: skip
# URL in the feed -> how it must appear inside <...|...>; None: never linked.
URLS: dict[str | None, str | None] = {
    "https://example.com/a?x=1&y=2": "https://example.com/a?x=1&amp;y=2",
    "http://example.org/p|q>r": "http://example.org/p%7Cq%3Er",
    "https://example.net/" + "é" * 20: "https://example.net/" + "%C3%A9" * 20,
    "javascript:alert(1)": None,
    "data:text/html,<b>x</b>": None,
    None: None,
}
ALLOWED_LINKS = {v for v in URLS.values() if v}
OUR_TOKEN = re.compile(
    r"<(?P<url>https?://[^\s<>|]+)\|[^<>]*>"
    r"|<!date\^-?[0-9]+\^\{date_short_pretty\} \{time\}"
    r"\|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC>"
)

feed_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=30)), max_size=6).map(
    "".join
)
