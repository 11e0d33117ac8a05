"""The topics feeds.yaml ships, tried on recorded feeds: what each catches, and what it must not.

Each topic has a table: items of recorded feeds it must catch (the subject it
is for) and items it must not (obvious noise that shares a word with it). An
item is named by its source and the start of its title. Sources:

- `fixture:` and `demo:`: the project's own recorded feeds (tests/fixtures/feeds,
  bot/demo_feeds), always present;
- `abstracts`: real BIS and DHS Federal Register documents
  (tests/fixtures/entitylist/real_abstracts.json), always present;
- `corpus:`: ../shared/feeds-corpus (real feeds: the Federal Register's documents
  feed of August 2025, Reuters, The Economist, Kanpo, ...);
- `frjson`: ../shared/fr-samples, a real Federal Register API response of 1,000
  documents (2-17 January 2024), the documents the fr-* feeds carry.

Rows of an absent source are skipped. On the one whole Federal Register feed
recorded (200 documents of every agency), each topic must catch exactly the
documents listed in `FEDERAL_REGISTER_CATCHES`, nothing else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from bot.config.model import Config, TopicConfig
from bot.config.schema import load_config
from bot.find.query.document import prepare_doc
from bot.find.query.parser import parse_query
from bot.ingest.parse import parse_feed
from bot.models import Item
from tests.support import paths

SHIPPED: Config = load_config(paths.ROOT / "bot" / "default_feeds.yaml", env={})
NOW = datetime(2026, 11, 18, tzinfo=UTC)
FR_SAMPLES = paths.ROOT.parent / "shared" / "fr-samples"
FR_JSON = FR_SAMPLES / "fr_api_documents_search_2024-01_all_fields.json"
FR_FEED = "corpus:policy/federalregister-documents_2025-08.rss20.xml"
REUTERS = "corpus:policy/reuters-via-googlenews_2026-07.rss20.xml"
KANPO = "corpus:policy/japan-kanpo-gazette-toc_unofficial_2025-07.rss20.xml"

MUST_CATCH: dict[str, list[tuple[str, str]]] = {
    "entity-list": [
        ("fixture:fr-entity-list.rss", "Additions to the Entity List"),
        ("fixture:fr-entity-list.rss", "Additions of Entities, Revisions of Entries, and Removal"),
        ("fixture:fr-entity-list.rss", "Entity List Additions"),
        ("abstracts", "Addition of Entity to the Entity List, and Addition of Entity to the M"),
        ("demo:trade-semiconductor-news_synthetic.atom", "What the latest Entity List revisions"),
    ],
    "export-controls": [
        ("demo:fr-bis-documents.rss", "Implementation of Additional Due Diligence Measures"),
        ("abstracts", "Revisions to the Unverified List"),
        ("fixture:rss10-keizai-anpo_synthetic.rdf", "Export control briefing for small exporters"),
        (
            REUTERS,
            "China considers tighter export",
        ),
        (REUTERS, "China adds 14 EU entities"),
        ("corpus:policy/geek-counterpoint_2012.rss20.xml", "GC031 Stuck in the ITAR"),
    ],
    "sanctions": [
        # The notice of issue 13: stored and searchable, but in no digest section.
        ("fixture:fr-documents_2025-08_excerpt.rss", "Notice of OFAC Sanctions Actions"),
        (FR_FEED, "Specially Designated Global Terrorist Designations"),
        ("abstracts", "Export Administration Regulations End-User Controls: Imposition"),
        ("frjson", "Publication of Russian Harmful Foreign Activities Sanctions Regulations"),
        (
            REUTERS,
            "EU envoys agree 21st sanctions",
        ),
        (
            "corpus:policy/cbsnews-world_2026-02.rss20.xml",
            "U.S. military boards another oil tanker",
        ),
    ],
    "semiconductors": [
        ("fixture:fr-documents_2025-08_excerpt.rss", "Industrial Advisory Committee"),  # CHIPS R&D
        ("fixture:atom10-chipwire_synthetic.atom", "Semiconductor tool orders slow"),
        ("fixture:rss10-keizai-anpo_synthetic.rdf", "特定重要物資（半導体）"),
        ("demo:trade-semiconductor-news_synthetic.atom", "Wafer-fab equipment orders slip"),
        ("corpus:policy/economist-asia_2026-02.rss20.xml", "Japan storms back into the chip wars"),
        ("corpus:policy/economist-asia_2026-02.rss20.xml", "India’s new chip fab rises"),
        ("corpus:policy/korea-society_2012.rss20.xml", "The Korea-U.S. Partnership"),
        (REUTERS, "European semiconductor stocks"),
        (REUTERS, "TSMC to raise chipmaking"),
    ],
    "ipef": [
        ("demo:trade-semiconductor-news_synthetic.atom", '"Chips 4" working group meets'),
        ("demo:trade-semiconductor-news_synthetic.atom", "IPEF supply-chain council"),
    ],
    "economic-security": [
        # 経済安全保障推進法 by its formal name, in Japan's Official Gazette.
        ("fixture:kanpo-toc_2025-07_excerpt.rss", "経済施策を一体的に講ずることによる安全保障"),
        ("fixture:rss20-utf16le-bom.xml", "経済安全保障推進法に基づく特定重要物資"),
        ("demo:japan-economic-security_synthetic.rdf", "基幹インフラ制度の届出様式"),
        ("corpus:policy/nyt-world_2026-02.rss20.xml", "In Munich, Europe Says It Is ‘De-risking’"),
    ],
    "rare-earths": [
        ("fixture:atom10-chipwire_synthetic.atom", "Rare-earth magnets: buyers look beyond"),
        ("demo:japan-economic-security_synthetic.rdf", "重要鉱物（レアアース）"),
        ("demo:trade-semiconductor-news_synthetic.atom", "IPEF supply-chain council"),  # minerals
        ("corpus:policy/dw-english_2026-02.rss10.rdf", "How US Project Vault challenges China"),
        ("corpus:policy/economist-asia_2026-02.rss20.xml", "Lessons from Japan’s efforts to wean"),
    ],
    "trade-actions": [
        ("demo:fr-bis-documents.rss", "Agency Information Collection Activities"),  # Section 232
        ("frjson", "Publication of 2024 Tariff Rate Quota Quantity Limitations"),  # USTR
        (REUTERS, "NEWSLETTER: Section 301"),
        (REUTERS, "Reaction to US imposing new"),
        ("corpus:policy/economist-asia_2026-02.rss20.xml", "Trump’s tariffs will pummel Vietnam"),
    ],
    "trade-remedies": [
        ("fixture:fr-documents_2025-08_excerpt.rss", "Chlorinated Isocyanurates From People's"),
        ("fixture:fr-documents_2025-08_excerpt.rss", "Unwrought Palladium From Russia"),
        # Japan's anti-dumping investigation, by the article of the Customs Tariff Act.
        (KANPO, "中華人民共和国産並びに台湾"),
        (FR_FEED, "Antidumping or Countervailing Duty Order, Finding, or Suspended Investigation"),
        (FR_FEED, "Initiation of Five-Year (Sunset) Reviews"),
        ("frjson", "Certain Paper Shopping Bags From Cambodia"),  # "less than fair value"
    ],
}

MUST_NOT_CATCH: dict[str, list[tuple[str, str]]] = {
    "entity-list": [
        # DHS's list under the Uyghur Forced Labor Prevention Act is another list.
        ("abstracts", "Notice on the Addition of Entities to the Uyghur Forced Labor Prevention"),
        ("abstracts", "Notice Regarding the Uyghur Forced Labor Prevention Act Entity List"),
        ("abstracts", "Export Administration Regulations End-User Controls: Imposition"),
        (REUTERS, "China adds 14 EU entities"),
    ],
    "export-controls": [
        ("abstracts", "Notice Regarding the Uyghur Forced Labor Prevention Act Entity List"),
        (FR_FEED, "Export Trade Certificate of Review"),  # antitrust cover for exporters
        ("fixture:fr-documents_2025-08_excerpt.rss", "Unwrought Palladium From Russia"),
    ],
    "sanctions": [
        ("corpus:policy/indianexpress-world_2017.rss20.xml", "Pakistan: Sindh Governor rejects"),
        ("frjson", "Air Plan Disapproval; Kansas; Regional Haze"),  # the "sanctions clock"
        ("fixture:fr-documents_2025-08_excerpt.rss", "Chlorinated Isocyanurates"),
    ],
    "semiconductors": [
        ("frjson", "Request for Medicaid and CHIP Payment and Access Commission"),
        ("frjson", "Medicaid and Children's Health Insurance Program (CHIP)"),
        (FR_FEED, "Security Zones; Tampa Bay"),
    ],
    "ipef": [
        ("corpus:policy/economist-asia_2026-02.rss20.xml", "Australia’s ambitious new push"),
        ("fixture:atom10-chipwire_synthetic.atom", "Semiconductor tool orders slow"),
    ],
    "economic-security": [
        (FR_FEED, "Security Zones; Tampa Bay"),
        (FR_FEED, "Intent To Request a Revision From OMB of One Current Public Collection"),
        (KANPO, "中華人民共和国産並びに台湾"),  # an anti-dumping investigation
    ],
    "rare-earths": [
        ("corpus:general/reddit-homelab.atom10.xml", "Looking into UPS for server rack"),  # lithium
        (FR_FEED, "Small Diameter Graphite Electrodes From China"),
        ("frjson", "Foreign-Trade Zone (FTZ) 89, Notification of Proposed Production Activity"),
    ],
    "trade-actions": [
        ("frjson", "Carrier Automated Tariffs"),  # a shipping line's price list
        # Every duty notice cites the Tariff Act of 1930: that is trade-remedies.
        ("fixture:fr-documents_2025-08_excerpt.rss", "Unwrought Palladium From Russia"),
        (FR_FEED, "Combined Notice of Filings"),
    ],
    "trade-remedies": [
        # Section 337 patent cases at the ITC are not trade remedies.
        ("fixture:fr-documents_2025-08_excerpt.rss", "Certain Dermatological Treatment Devices"),
        ("frjson", "Certain Self-Balancing Electric Skateboards"),
        (FR_FEED, "Export Trade Certificate of Review"),
    ],
}

FEDERAL_REGISTER_CATCHES: dict[str, list[str]] = {
    "sanctions": [
        "Notice of OFAC Sanctions Actions",
        "Notice of OFAC Sanctions Actions",
        "Specially Designated Global Terrorist Designations of Kata'ib al-Imam Ali and Nasr "
        "Mohsen Ali Huthele",
    ],
    "semiconductors": ["Industrial Advisory Committee"],
    "trade-actions": [
        "Agency Information Collection Activities; Submission to the Office of Management and "
        "Budget (OMB) for Review and Approval; Comment Request; Inclusions to the Section 232 "
        "National Security Adjustments to Imports",
    ],
    "trade-remedies": [
        "Chlorinated Isocyanurates From People's Republic of China: Final Results of the "
        "Expedited Second Sunset Review of the Countervailing Duty Order",
        "Small Diameter Graphite Electrodes From China; Scheduling of an Expedited Five-Year "
        "Review",
        "Carbon and Alloy Steel Wire Rod From the Republic of Korea: Preliminary Results of "
        "Antidumping Duty Administrative Review; 2023-2024",
        "Carbon and Certain Alloy Steel Wire Rod From Mexico: Final Results and Partial "
        "Rescission of the Antidumping Duty Administrative Review; 2022-2023",
        "Unwrought Palladium From Russia; Institution of Antidumping and Countervailing Duty "
        "Investigations and Scheduling of Preliminary Phase Investigations",
        "Certain Chassis and Subassemblies Thereof From the Kingdom of Thailand: Preliminary "
        "Affirmative Countervailing Duty Determination and Alignment of Final Determination With "
        "Final Antidumping Duty Determination",
        "Certain Chassis and Subassemblies Thereof From Mexico: Preliminary Affirmative "
        "Countervailing Duty Determination and Alignment of Final Determination With Final "
        "Antidumping Duty Determination",
        "Heavy Walled Rectangular Welded Carbon Steel Pipes and Tubes From Mexico: Final Results "
        "of Antidumping Duty Administrative Review; 2022-2023; Correction",
        "Initiation of Five-Year (Sunset) Reviews",
        "Antidumping or Countervailing Duty Order, Finding, or Suspended Investigation; "
        "Opportunity To Request Administrative Review and Join Annual Inquiry Service List",
        "Antidumping or Countervailing Duty Order, Finding, or Suspended Investigation; Advance "
        "Notification of Sunset Review",
        "L-Lysine From the People's Republic of China: Postponement of Preliminary Determination "
        "in the Countervailing Duty Investigation",
        "Erythritol From China; Scheduling of the Final Phase of Antidumping and Countervailing "
        "Duty Investigations",
        "Polyethylene Terephthalate Film, Sheet, and Strip From China, India, Taiwan, and the "
        "United Arab Emirates; Institution of Five-Year Reviews",
        "Certain Crystalline Silicon Photovoltaic Products From China and Taiwan; Institution of "
        "Five-Year Reviews",
        "Polyethylene Terephthalate Sheet From South Korea; Institution of a Five-Year Review",
    ],
}


# -- the recorded items -------------------------------------------------------------


def source_path(source: str) -> Path:
    kind, _, name = source.partition(":")
    roots = {
        "fixture": paths.FIXTURES / "feeds",
        "demo": paths.ROOT / "bot" / "demo_feeds",
        "corpus": paths.CORPUS,
        "abstracts": paths.FIXTURES / "entitylist" / "real_abstracts.json",
        "frjson": FR_JSON,
    }
    return roots[kind] / name if name else roots[kind]


@cache
def recorded(source: str) -> tuple[Item, ...]:
    """The items of one recorded source; the test is skipped when it is absent."""
    path = source_path(source)
    if not path.is_file():
        pytest.skip(f"{path} not present")
    if source == "abstracts":
        documents = json.loads(path.read_text(encoding="utf-8"))["documents"]
        return tuple(_document(d["document_number"], d["title"], d["abstract"]) for d in documents)
    if source == "frjson":
        documents = json.loads(path.read_text(encoding="utf-8"))["results"]
        return tuple(_document(d["document_number"], d["title"], d["abstract"]) for d in documents)
    parsed = parse_feed(path.name.split(".")[0], path.read_bytes(), fetched_at=NOW)
    return parsed.items


def _document(number: str | None, title: str, abstract: str | None) -> Item:
    return Item(id=number or title, feed_id="federal-register", title=title, summary=abstract or "")


def items_titled(source: str, start: str) -> list[Item]:
    found = [item for item in recorded(source) if item.title.strip().startswith(start)]
    assert found, f"no item of {source} has a title starting {start!r}"
    return found


def topic(topic_id: str) -> TopicConfig:
    found = SHIPPED.topic(topic_id)
    assert found is not None, f"feeds.yaml ships no topic {topic_id!r}"
    return found


def catches(topic_id: str, item: Item) -> bool:
    return parse_query(topic(topic_id).query).matches(prepare_doc(item), now=NOW)


def rows(table: dict[str, list[tuple[str, str]]]) -> list[object]:
    return [
        pytest.param(topic_id, source, title, id=f"{topic_id}: {title[:40]}")
        for topic_id, entries in table.items()
        for source, title in entries
    ]


# -- the tables -------------------------------------------------------------------------


@pytest.mark.parametrize(("topic_id", "source", "title"), rows(MUST_CATCH))
def test_topic_catches_its_subject(topic_id: str, source: str, title: str) -> None:
    for item in items_titled(source, title):
        assert catches(topic_id, item), f"{topic_id} misses {item.title!r}"


@pytest.mark.parametrize(("topic_id", "source", "title"), rows(MUST_NOT_CATCH))
def test_topic_leaves_obvious_noise_alone(topic_id: str, source: str, title: str) -> None:
    for item in items_titled(source, title):
        assert not catches(topic_id, item), f"{topic_id} catches {item.title!r}"


def test_every_shipped_topic_has_both_tables() -> None:
    shipped = [t.id for t in SHIPPED.topics]
    assert shipped == list(MUST_CATCH) == list(MUST_NOT_CATCH)


@pytest.mark.parametrize("topic_id", [t.id for t in SHIPPED.topics])
def test_on_a_whole_federal_register_feed_each_topic_catches_exactly_its_documents(
    topic_id: str,
) -> None:
    caught = [item.title for item in recorded(FR_FEED) if catches(topic_id, item)]
    assert caught == FEDERAL_REGISTER_CATCHES.get(topic_id, [])


# -- the shipped feeds and the audience's subjects -------------------------------------


def test_topics_for_the_audiences_subjects_and_every_shipped_feeds_subject() -> None:
    assert [t.id for t in SHIPPED.topics] == [
        "entity-list",
        "export-controls",
        "sanctions",
        "semiconductors",
        "ipef",
        "economic-security",
        "rare-earths",
        "trade-actions",
        "trade-remedies",
    ]
    for t in SHIPPED.topics:
        parse_query(t.query)  # each parses
        assert t.description


@pytest.mark.parametrize(
    ("feed_id", "title", "summary", "topic_id"),
    [
        ("fr-ofac", "Notice of OFAC Sanctions Actions", "", "sanctions"),
        ("fr-ita", "Certain Steel Nails From Taiwan: Final Results of Antidumping Duty", "", None),
        # Whatever USTR publishes is a trade action, its title notwithstanding.
        ("fr-ustr", "Notice of Public Hearing and Request for Comments", "", "trade-actions"),
        ("fr-entity-list", "Additions to the Entity List", "", "entity-list"),
        ("fr-bis", "Revisions to the Commerce Control List", "", "export-controls"),
        ("fr-semiconductors", "Semiconductor manufacturing incentives", "", "semiconductors"),
    ],
)
def test_an_item_of_each_shipped_federal_register_feed_lands_in_a_topic(
    feed_id: str, title: str, summary: str, topic_id: str | None
) -> None:
    feed = SHIPPED.feed(feed_id)
    assert feed is not None, feed_id
    item = Item(id="x", feed_id=feed_id, title=title, summary=summary)
    doc = prepare_doc(item, feed_tags=feed.tags)
    matched = [t.id for t in SHIPPED.topics if parse_query(t.query).matches(doc, now=NOW)]
    assert matched, f"an item of {feed_id} matches no shipped topic"
    assert matched[0] == (topic_id or "trade-remedies")
