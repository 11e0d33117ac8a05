"""Matching queries: words, phrases, wildcards, fields, what search needs, many queries at once."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.find.query.document import MatchDoc
from bot.find.query.matcher import QueryMatcher
from bot.find.query.parser import parse_query
from bot.find.query.syntax import QueryError
from bot.find.textindex import analyze
from tests.find.query.sample import NOW, TOPICS, make_doc, matches

CORPUS = Path("/work/shared/feeds-corpus")


# ---------------------------------------------------------------------------
# Matching


@pytest.mark.parametrize(
    ("query", "title", "summary", "expected"),
    [
        # case and accents
        ("economie", "Économie japonaise", "", True),
        ("ÉCONOMIE", "economie", "", True),
        ("Łódź", "Investment in Lodz", "", True),
        ("strasse", "Straße", "", True),
        ("ipef", "ＩＰＥＦ ministers meet", "", True),
        ("ＩＰＥＦ", "IPEF ministers meet", "", True),
        # plurals, both ways, in words and inside phrases
        ("entities", "BIS adds one entity", "", True),
        ("entity", "BIS adds 36 entities", "", True),
        ('"export controls"', "New export control on GPUs", "", True),
        ('"export control"', "Tighter export controls on AI chips", "", True),
        ("policies", "A new policy", "", True),
        ("addresses", "The address of the entity", "", True),
        ("chip", "Memory chips", "", True),
        ("embargoes", "An arms embargo", "", True),
        ("us", "Japan and the US agree", "", True),
        ("u", "Japan and the US agree", "", False),
        ("news", "New rules", "", False),
        ("series", "A serie of rules", "", False),
        # phrases are consecutive and stay within title or summary
        ('"entity list"', "Additions to the Entity List", "", True),
        ('"entity list"', "China adds 14 EU entities to export control list", "", False),
        ('"entity list"', "List of entities", "", False),
        ('"export control"', "Export", "Control of exports", False),
        ('"export control"', "Rules on export", "control", False),
        ('"rare earth"', "", "China restricts rare-earth magnets", True),
        ("indo-pacific", "The Indo Pacific Economic Framework", "", True),
        # words anywhere, title or summary
        ("gallium germanium", "Gallium curbs", "and germanium too", True),
        ("gallium germanium", "Gallium curbs", "", False),
        # possessives and apostrophes
        ("china", "China's new rules", "", True),
        ("china's", "China rules", "", True),
        # wildcards: prefixes of the word as written or stemmed
        ("export*", "Exporters worry", "", True),
        ("export*", "Re-exports of items", "", True),
        ("export*", "Imports rise", "", False),
        ("polic*", "Policies change", "", True),
        ("chips*", "Memory chips", "", True),
        ("semiconductor*", "Semiconductors and more", "", True),
        ("indo-pac*", "The Indo-Pacific framework", "", True),
        ("indo-pac*", "Indo-China and the Pacific", "", False),
        # NOT
        ("chips -potato", "Memory chips", "", True),
        ("chips -potato", "Potato chips", "", False),
        ('chips -"potato chip"', "Potato and memory chips", "", True),
        ("NOT chips", "Rare earths", "", True),
        # CJK: bigrams, so a substring of a run matches
        ("半導体", "半導体の輸出規制を強化", "", True),
        ("輸出規制", "半導体の輸出規制を強化", "", True),
        ("規制強化", "半導体の輸出規制を強化", "", False),
        ("規", "半導体の輸出規制を強化", "", True),
        ("塩", "半導体の輸出規制を強化", "", False),
        ("経済安全保障", "経済安全保障推進法の改正", "", True),
        ("安全保障", "経済安全保障推進法の改正", "", True),
        ("AI半導体", "AI半導体への投資", "", True),
        # a Kanpo title (policy/japan-kanpo-gazette_unofficial_2025-07.rss20.xml)
        (
            "経済産業",
            "清涼飲料用ペットボトル容器に係る設計認定の基準（農林水産・経済産業一）",
            "",
            True,
        ),
        (
            "ペットボトル",
            "清涼飲料用ペットボトル容器に係る設計認定の基準（農林水産・経済産業一）",
            "",
            True,
        ),
        (
            "経済安全保障",
            "清涼飲料用ペットボトル容器に係る設計認定の基準（農林水産・経済産業一）",
            "",
            False,
        ),
        # full-width digits and Korean
        ("令和7年", "令和７年７月２４日（本紙　第１５１３号）", "", True),
        ("반도체", "한국 반도체 수출", "", True),
    ],
)
def test_match(query: str, title: str, summary: str, expected: bool) -> None:
    assert matches(query, title, summary) is expected


@pytest.mark.parametrize(
    ("topic", "title", "expected"),
    [
        ("entity-list", "Additions to the Entity List", True),
        ("entity-list", "Revisions to the Entity List", True),
        ("entity-list", "Entity List Additions; Correction", True),
        ("entity-list", "China adds 14 EU entities to export control list", False),
        ("export-controls", "Export Administration Regulations: Revisions", True),
        ("export-controls", "Amendments to the EAR", True),
        ("export-controls", "Stuck in the ITAR", True),
        ("export-controls", "Expansion of the Foreign Direct Product Rule", True),
        ("export-controls", "Tighter export controls on AI models", True),
        ("export-controls", "Exports of wheat rise", False),
        ("export-controls", "The ear of the king", True),  # EAR is also a word: accepted cost
        ("semiconductors", "Semiconductor stocks diverge", True),
        ("semiconductors", "India's new chip fab", True),
        ("semiconductors", "Integrated circuits from Taiwan", True),
        ("semiconductors", "EUV lithography tools", True),
        ("semiconductors", "Wafers in short supply", True),
        ("semiconductors", "Potatoes in short supply", False),
        ("ipef", "IPEF partners sign supply chain pact", True),
        ("ipef", "Indo-Pacific Economic Framework for Prosperity", True),
        ("ipef", "Indo-Pacific security talks", False),
        ("economic-security", "Japan's economic security law", True),
        ("economic-security", "Supply-chain resilience fund", True),
        ("economic-security", "Economic growth and security", False),
        ("rare-earths", "China curbs rare earths exports", True),
        ("rare-earths", "Critical minerals deal", True),
        ("rare-earths", "Gallium and germanium curbs", True),
        ("rare-earths", "Rare events on earth", False),
    ],
)
def test_topic(topic: str, title: str, expected: bool) -> None:
    assert matches(TOPICS[topic], title) is expected


# ---------------------------------------------------------------------------
# Field filters


def test_feed_filter_is_exact() -> None:
    doc = make_doc("Additions to the Entity List", feed_id="fr-bis")
    assert parse_query("feed:fr-bis").matches(doc, now=NOW)
    assert not parse_query("feed:FR-BIS").matches(doc, now=NOW)
    assert not parse_query("feed:fr").matches(doc, now=NOW)
    assert parse_query('"entity list" -feed:reuters').matches(doc, now=NOW)


@pytest.mark.parametrize(
    ("query", "item_tags", "feed_tags", "expected"),
    [
        ("tag:us", ("US",), (), True),
        ("tag:US", ("us",), (), True),
        ("tag:export-controls", (), ("export-controls",), True),
        ('tag:"export controls"', ("Export Controls",), (), True),
        ("tag:us", ("usa",), (), False),
        ("tag:japan", (), (), False),
        ("-tag:draft", ("final",), (), True),
    ],
)
def test_tag_filter(
    query: str, item_tags: tuple[str, ...], feed_tags: tuple[str, ...], expected: bool
) -> None:
    doc = make_doc("x", tags=item_tags, feed_tags=feed_tags)
    assert parse_query(query).matches(doc, now=NOW) is expected


@pytest.mark.parametrize(
    ("query", "age", "expected"),
    [
        ("since:7d", timedelta(days=6, hours=23), True),
        ("since:7d", timedelta(days=7, hours=1), False),
        ("since:24h", timedelta(hours=23), True),
        ("since:24h", timedelta(hours=25), False),
        ("since:2w", timedelta(days=13), True),
        ("since:2w", timedelta(days=15), False),
        ("before:7d", timedelta(days=8), True),
        ("before:7d", timedelta(days=6), False),
        ("since:30d before:7d", timedelta(days=10), True),
        ("since:30d before:7d", timedelta(days=3), False),
        ("since:30d before:7d", timedelta(days=31), False),
        # NOW is 2026-11-20 12:00 UTC: 19.5 days after 2026-11-01 00:00 UTC.
        ("since:2026-11-01", timedelta(days=19), True),
        ("since:2026-11-01", timedelta(days=20), False),
        ("before:2026-11-01", timedelta(days=20), True),
        ("before:2026-11-01", timedelta(days=19), False),
    ],
)
def test_time_filter(query: str, age: timedelta, expected: bool) -> None:
    doc = make_doc("x", published=NOW - age)
    assert parse_query(query).matches(doc, now=NOW) is expected


def test_relative_time_is_resolved_when_matching_not_when_parsing() -> None:
    query = parse_query("chips since:7d")  # parsed once, stored with a subscription
    doc = make_doc("Chips", published=datetime(2026, 11, 1, tzinfo=UTC))
    assert query.matches(doc, now=datetime(2026, 11, 5, tzinfo=UTC))
    assert not query.matches(doc, now=datetime(2026, 11, 9, tzinfo=UTC))


def test_date_means_midnight_in_the_zone_of_now() -> None:
    query = parse_query("since:2026-11-01")
    # 2026-11-01 01:00 in Tokyo, still 31 October in UTC.
    doc = make_doc("x", published=datetime(2026, 10, 31, 16, 0, tzinfo=UTC))
    assert query.matches(doc, now=NOW.astimezone(ZoneInfo("Asia/Tokyo")))
    assert not query.matches(doc, now=NOW)


def test_naive_times_are_taken_as_utc() -> None:
    query = parse_query("since:1d")
    doc = make_doc("x", published=datetime(2026, 11, 20, 0, 0))
    assert query.matches(doc, now=datetime(2026, 11, 20, 12, 0))
    assert not query.matches(doc, now=datetime(2026, 11, 21, 1, 0))


def test_item_without_dates_counts_as_old() -> None:
    doc = make_doc("x")  # no published, no first_seen: Item.when is the epoch
    assert not parse_query("since:3650d").matches(doc, now=NOW)
    assert parse_query("before:2000-01-01").matches(doc, now=NOW)


# ---------------------------------------------------------------------------
# What search needs from a query


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ('"Export Controls" OR entities', ["export control", "entity"]),
        ("chips -potato NOT (crisps OR snacks)", ["chip"]),
        ("semiconductor* since:7d feed:fr-bis", ["semiconductor*"]),
        ("indo-pac* chips chips", ["indo pac*", "chip"]),
        ("株 半導体", ["株", "半導 導体"]),
        ("feed:fr-bis", []),
    ],
)
def test_positive_terms(query: str, terms: list[str]) -> None:
    assert parse_query(query).positive_terms() == terms


def test_filters_lift_the_top_level_conjuncts() -> None:
    found = parse_query(
        "(feed:fr-bis OR feed:bis-press) tag:us (tag:japan OR tag:jp) since:7d before:1d chips"
    ).filters()
    assert found.feed_ids == frozenset({"fr-bis", "bis-press"})
    assert found.tag_groups == (frozenset({"us"}), frozenset({"japan", "jp"}))
    start, end = found.time_window(NOW)
    assert (start, end) == (NOW - timedelta(days=7), NOW - timedelta(days=1))


@pytest.mark.parametrize(
    ("query", "feed_ids", "window"),
    [
        ("chips", None, (None, None)),
        ("feed:a feed:b", frozenset(), (None, None)),
        ("chips OR feed:a", None, (None, None)),
        ("-feed:a since:2026-11-01", None, (datetime(2026, 11, 1, tzinfo=UTC), None)),
        ("since:30d since:2d", None, (NOW - timedelta(days=2), None)),
        ("chips OR since:1d", None, (None, None)),
    ],
)
def test_filters_leave_out_what_is_not_required(
    query: str, feed_ids: frozenset[str] | None, window: tuple[datetime | None, datetime | None]
) -> None:
    found = parse_query(query).filters()
    assert found.feed_ids == feed_ids
    assert found.time_window(NOW) == window


# ---------------------------------------------------------------------------
# Many queries at once


def test_matcher_returns_matching_keys_in_order() -> None:
    matcher = QueryMatcher((topic, parse_query(text)) for topic, text in TOPICS.items())
    assert len(matcher) == 6
    doc = make_doc("BIS adds entities to the Entity List over chips and gallium")
    assert matcher.match(doc, now=NOW) == ["entity-list", "semiconductors", "rare-earths"]
    assert matcher.match(make_doc("Wafer-level lithography"), now=NOW) == ["semiconductors"]
    assert matcher.match(make_doc("Weather"), now=NOW) == []


def test_matcher_runs_queries_without_trigger_words() -> None:
    matcher = QueryMatcher(
        [
            ("feed", parse_query("feed:fr-bis")),
            ("not", parse_query("-chips")),
            ("kanji", parse_query("株")),
            ("words", parse_query("chips")),
        ]
    )
    assert matcher.match(make_doc("株式会社"), now=NOW) == ["feed", "not", "kanji"]
    assert matcher.match(make_doc("chips", feed_id="other"), now=NOW) == ["words"]


# ---------------------------------------------------------------------------
# The real feed corpus (issue 3; /work/shared/feeds-corpus/README.md)

NEAR_MISS = (
    "China adds 14 EU entities to export control list over Russia-related sanctions - Reuters"
)
_NS = {"rss1": "http://purl.org/rss/1.0/", "atom": "http://www.w3.org/2005/Atom"}
_TAG_RE = re.compile(r"<[^>]+>")


def read_policy_corpus() -> list[tuple[str, str, str]]:
    """(file, title, summary) of each item of the policy feeds, tags stripped as the README says."""
    found = []
    for path in sorted((CORPUS / "policy").glob("*.*")):
        root = ET.parse(path).getroot()
        entries = [
            (item.findtext("title") or "", item.findtext("description") or "")
            for item in root.iter("item")
        ]
        entries += [
            (item.findtext("rss1:title", "", _NS), item.findtext("rss1:description", "", _NS))
            for item in root.iter("{http://purl.org/rss/1.0/}item")
        ]
        entries += [
            (item.findtext("atom:title", "", _NS), item.findtext("atom:summary", "", _NS))
            for item in root.iter("{http://www.w3.org/2005/Atom}entry")
        ]
        for title, summary in entries:
            text = html.unescape(_TAG_RE.sub(" ", summary))
            found.append((f"policy/{path.name}", title.strip(), text))
    return found


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared feed corpus is not on this machine")
def test_corpus_matches_are_exactly_the_expected_ones() -> None:
    expected = json.loads((CORPUS / "expected_topics.json").read_text())
    items = read_policy_corpus()
    assert len(items) > 2000
    for phrase, listed in expected.items():
        query = parse_query(f'"{phrase}"')
        got = sorted(
            (file, title)
            for file, title, summary in items
            if query.matches(make_doc(title, summary), now=NOW)
        )
        assert got == sorted((entry["file"], entry["title"]) for entry in listed), phrase


# Titles and summary excerpts from /work/shared/feeds-corpus/expected_topics.json and
# the feeds it names, copied so the test runs without the corpus.
@pytest.mark.parametrize(
    ("query", "title", "summary", "expected"),
    [
        ('"export control"', NEAR_MISS, "", True),
        ('"entity list"', NEAR_MISS, "", False),
        (
            '"export control"',
            "China considers tighter export controls on AI models and chips, FT reports - Reuters",
            "",
            True,
        ),
        (
            "semiconductor",
            "European semiconductor stocks diverge as investors weigh AI demand",
            "",
            True,
        ),
        (
            "semiconductor",
            "The Korea-U.S. Partnership: From Security to New Business Opportunities",
            "... Samsung Austin Semiconductor ...",
            True,
        ),
        ('"export control"', "Crypto-Gram 15 Jan 2006", "... Export Controls ...", True),
        ("semiconductor", "Japan storms back into the chip wars", "", False),
    ],
)
def test_corpus_titles_without_the_corpus(
    query: str, title: str, summary: str, expected: bool
) -> None:
    assert matches(query, title, summary) is expected


# Small queries from a grammar, over a tiny vocabulary so matches happen often.
_WORDS = ["chip", "chips", "export", "control", "Entity", "list", "gallium", "半導体"]
_atom = st.one_of(
    st.sampled_from(_WORDS),
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_WORDS)).map(lambda p: f'"{p[0]} {p[1]}"'),
    st.sampled_from(["exp*", "chi*", "ent*", "feed:a", "tag:x", "since:2d", "before:2d"]),
)
_small_query = st.recursive(
    _atom,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        inner.map(lambda q: f"-({q})"),
    ),
    max_leaves=6,
)
_doc = st.builds(
    make_doc,
    title=st.lists(st.sampled_from([*_WORDS, "entities", "exports", "the"]), max_size=6).map(
        " ".join
    ),
    summary=st.lists(st.sampled_from(_WORDS), max_size=4).map(" ".join),
    feed_id=st.sampled_from(["a", "b"]),
    tags=st.sampled_from([(), ("X",)]),
    published=st.sampled_from([NOW - timedelta(days=1), NOW - timedelta(days=3)]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small_query, _small_query, _doc)
def test_operators_mean_what_they_say(a: str, b: str, doc: MatchDoc) -> None:
    match_a = parse_query(a).matches(doc, now=NOW)
    match_b = parse_query(b).matches(doc, now=NOW)
    assert parse_query(f"({a}) OR ({b})").matches(doc, now=NOW) == (match_a or match_b)
    assert parse_query(f"({a}) AND ({b})").matches(doc, now=NOW) == (match_a and match_b)
    assert parse_query(f"({a}) ({b})").matches(doc, now=NOW) == (match_a and match_b)
    assert parse_query(f"NOT ({a})").matches(doc, now=NOW) == (not match_a)
    assert parse_query(f"-({a})").matches(doc, now=NOW) == (not match_a)


@settings(max_examples=200, deadline=None)
@given(st.lists(_small_query, min_size=1, max_size=8), _doc)
def test_matcher_agrees_with_each_query(texts: list[str], doc: MatchDoc) -> None:
    queries = [parse_query(text) for text in texts]
    matcher = QueryMatcher(enumerate(queries))
    expected = [i for i, query in enumerate(queries) if query.matches(doc, now=NOW)]
    assert matcher.match(doc, now=NOW) == expected


_text_without_quotes = st.text(
    alphabet=st.characters(blacklist_characters='"“”„＂', blacklist_categories=["Cs"]),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_text_without_quotes)
def test_any_text_matches_itself_as_a_phrase(text: str) -> None:
    # Query and document go through the same analysis, whatever the script.
    try:
        query = parse_query(f'"{text}"')
    except QueryError as error:
        assert not analyze(text)
        assert "nothing to search for in the quotes" in str(error)
        return
    assert query.matches(make_doc(text), now=NOW)
    assert query.matches(make_doc("prefix", f"{text} suffix"), now=NOW)
