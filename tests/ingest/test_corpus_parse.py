"""parse_feed over every real feed in shared/feeds-corpus (skipped when the corpus is absent).

Each file must give its entries or one clear error, quickly, with plain-text
titles and only http(s) links. Entry counts are checked against the corpus's
SOURCES.tsv (feedparser's own count); where briefbot keeps fewer, the table
below says which and why.
"""

from __future__ import annotations

import csv
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.ingest.parse import parse_feed
from bot.models import ParseResult
from tests.support import paths

CORPUS = paths.CORPUS
if not CORPUS.is_dir():
    pytest.skip(f"feed corpus not found at {CORPUS}", allow_module_level=True)

FETCHED_AT = datetime(2026, 11, 20, tzinfo=UTC)
SOURCES = {
    row["file"]: row
    for row in csv.DictReader(
        (CORPUS / "SOURCES.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"
    )
}
FILES = sorted(
    str(path.relative_to(CORPUS))
    for folder in ("policy", "general", "tricky")
    for path in (CORPUS / folder).iterdir()
    if path.is_file()  # policy/fr-api-json/ holds API responses, not feeds
)

# Files where briefbot keeps fewer items than feedparser reports, and why.
FEWER_ITEMS = {
    "policy/al-monitor_2026-02.rss20.xml": (11, "each story appears up to four times"),
    "tricky/encoding_declared-utf16-actually-utf8_eworldwire_2012.rss20.xml": (
        19,
        "one link appears twice (no GUIDs)",
    ),
    "tricky/many-items-no-guids_areweanticheatyet.rss20.xml": (
        1032,
        "no GUIDs or links; 13 title-and-text pairs appear again under later dates",
    ),
    "tricky/illformed_illegally-nested_pcmag-dvorak.rss20.xml": (
        10,
        "the bad nesting leaves 10 empty entries (no title, link or summary)",
    ),
}
# Files that give an error instead of items, and the start of that error.
ERRORS = {
    "tricky/illformed_truncated_reuters-most-read.rss20.xml": "malformed XML at line 19",
    "tricky/security_billion-laughs_feedparser-rs.rss20.xml": "refused: the DOCTYPE declares 4",
    "tricky/security_internal-entity-injection_feedparser-rs.rss20.xml": (
        "refused: the DOCTYPE declares 1 XML entity (xxe)"
    ),
    "tricky/security_quadratic-blowup_defusedxml.xml": "refused: the DOCTYPE declares 1",
    "tricky/security_xml-bomb_defusedxml.xml": "refused: the DOCTYPE declares 4",
    "tricky/security_xxe-external-entity_laminas.atom10.xml": (
        "refused: the DOCTYPE declares an external entity (discloseInfo)"
    ),
    "tricky/security_xxe-external_defusedxml.xml": (
        "refused: the DOCTYPE declares an external entity (ee)"
    ),
}
HTML_TAG = re.compile(
    r"</?(?:a|b|i|em|strong|p|div|span|br|img|iframe|script|style|table|td|tr|ul|li|font|h[1-6])"
    r"\b[^>]*>",
    re.IGNORECASE,
)
_cache: dict[tuple[str, int], ParseResult] = {}


def parse_corpus_file(name: str, summary_max_chars: int = 1000) -> ParseResult:
    key = (name, summary_max_chars)
    if key not in _cache:
        _cache[key] = parse_feed(
            Path(name).stem,
            (CORPUS / name).read_bytes(),
            fetched_at=FETCHED_AT,
            summary_max_chars=summary_max_chars,
        )
    return _cache[key]


def test_the_corpus_is_all_there() -> None:
    assert len(FILES) == 101
    assert set(FILES) <= set(SOURCES)
    assert set(FEWER_ITEMS) | set(ERRORS) <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_every_corpus_feed_gives_items_or_a_clear_error(name: str) -> None:
    started = time.monotonic()
    result = parse_feed(Path(name).stem, (CORPUS / name).read_bytes(), fetched_at=FETCHED_AT)
    assert time.monotonic() - started < 5.0

    if name in ERRORS:
        assert result.items == ()
        assert result.error is not None
        assert result.error.startswith(ERRORS[name])
        return
    assert result.error is None, result.error
    expected = FEWER_ITEMS.get(name, (int(SOURCES[name]["items"]), ""))[0]
    assert len(result.items) == expected
    assert len({item.id for item in result.items}) == len(result.items)
    for item in result.items:
        assert item.title, item
        assert not HTML_TAG.search(item.title), item.title
        assert item.title == item.title.strip()
        assert item.link is None or item.link.startswith(("http://", "https://")), item.link
        assert len(item.summary) <= 1000
        assert item.published is None or item.published.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("tricky/illformed_mismatched-tag_shreddingradio_2012.rss20.xml", "mismatched tag"),
        ("tricky/illformed_undefined-entity_dbengines.rss20.xml", "line 8: undefined entity"),
        ("tricky/illformed_unclosed-cdata_osm-pl.rss20.xml", "unclosed CDATA section"),
        ("tricky/illformed_junk-after-root_podcastkurios_2012.rss20.xml", "junk after document"),
        (
            "tricky/illformed_xmldecl-not-at-start_postgis.rss20.xml",
            "line 2: XML or text declaration not at start of entity",
        ),
        (
            "tricky/encoding_no-decl-latin1_uol-noticias.rss",
            "wrong character encoding: none declared and not UTF-8; decoded as windows-1252",
        ),
    ],
)
def test_malformed_corpus_feeds_carry_a_warning(name: str, warning: str) -> None:
    result = parse_corpus_file(name)
    assert result.items
    assert result.warning is not None
    assert warning in result.warning


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("tricky/encoding_windows-1251_ibash-org-ru.rss20.xml", "title", "Цитата #17703"),
        ("tricky/encoding_gb2312_kc0011.rss20.xml", "title", "建国35周年纪念，华表，和平鸽"),
        (
            "tricky/encoding_double-encoded-utf8_yandex-news.rss20.xml",
            "title",
            "В Москве из-за сильных морозов объявлен «оранжевый» уровень опасности",
        ),
        (
            "tricky/encoding_no-decl-latin1_uol-noticias.rss",
            "title",
            "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno",
        ),
        (
            "tricky/encoding_declared-utf8-actually-cp1252_medctr_2012.rss20.xml",
            "summary",
            "Analgetika - medikamentöse Schmerztherapie im Vergleich",
        ),
        (
            "tricky/rtl-text_bbc-urdu.rss20.xml",
            "title",
            "امریکی عسکری امداد کی بندش کی وجوہات: انڈیا سے جنگ، جوہری پروگرام اور اب دہشت گردوں"
            " کی پشت پناہی",
        ),
    ],
)
def test_corpus_encodings_decode_to_the_exact_text(name: str, field: str, expected: str) -> None:
    assert getattr(parse_corpus_file(name).items[0], field) == expected


def test_federal_register_corpus_feed() -> None:
    result = parse_corpus_file("policy/federalregister-documents_2025-08.rss20.xml")
    assert len(result.items) == 200
    assert all(item.id.startswith("fr:") for item in result.items)
    summaries = [item.summary for item in result.items]
    # 35 descriptions carry &amp;#39; and 26 &amp;quot; (see the corpus README).
    assert not any("&#39;" in s or "&quot;" in s or "&amp;" in s for s in summaries)
    swim = next(i for i in result.items if i.id == "fr:2025-14737")
    assert swim.summary.startswith(
        "The Coast Guard will enforce special local regulations for the Women Swimmin'"
        " for Hospicare on August 9, 2025,"
    )


def test_relative_corpus_links_resolve_against_the_feed_url() -> None:
    name = "tricky/relative-urls_neverwinter.rss20.xml"
    result = parse_feed(
        "nw",
        (CORPUS / name).read_bytes(),
        url="http://www.arcgames.com/en/games/neverwinter/news/rss",
        fetched_at=FETCHED_AT,
    )
    assert [item.link for item in result.items] == [
        "http://www.arcgames.com/en/games/neverwinter/news/detail/10743874-neverwinter-%26-"
        "jingle-jam-humble-bundle%21",
        "http://www.arcgames.com/en/games/neverwinter/news/detail/10738994-2x-underdark-"
        "currency-%26-15%25-off-bags%21",
    ]


def test_expected_topics_survive_normalization() -> None:
    """The corpus's topic list, recomputed on briefbot's plain text, comes out the same."""
    expected = json.loads((CORPUS / "expected_topics.json").read_text(encoding="utf-8"))
    patterns = {
        "entity list": re.compile(r"\bentity\s+lists?\b", re.IGNORECASE),
        "export control": re.compile(r"\bexport\s+controls?\b", re.IGNORECASE),
        "semiconductor": re.compile(r"\bsemiconductors?\b", re.IGNORECASE),
    }
    found: dict[str, list[dict[str, str]]] = {topic: [] for topic in patterns}
    for name in (n for n in FILES if n.startswith("policy/")):
        for item in parse_corpus_file(name, summary_max_chars=10**7).items:
            for topic, pattern in patterns.items():
                if pattern.search(f"{item.title} {item.summary}"):
                    found[topic].append({"file": name, "title": item.title})
    assert found == expected
