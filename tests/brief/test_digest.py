"""Digest selection: which items a channel's digest shows, under which topic, in what order.

Items are built by hand; each case states the view it expects as
[(section id, [item ids newest first])], the way a reader sees the digest.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from bot.brief.digest import (
    OTHERS_SHOWN,
    build_digest_view,
    format_date_label,
    format_period_label,
    other_item_filter,
)
from bot.config.model import DigestConfig, TopicConfig
from bot.models import DigestView, Item

NOW = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)

TOPICS = (
    TopicConfig(id="entity-list", query='"entity list"', priority=100, description="Entity List"),
    TopicConfig(id="export-controls", query='"export control" OR "entity list"', priority=80),
    TopicConfig(id="chips", query="chip OR semiconductor*", priority=70),
    TopicConfig(id="minerals", query='"rare earth" OR gallium', priority=70),
)


def make_item(
    seq: int,
    title: str,
    *,
    hours_ago: float = 1.0,
    feed: str = "fr-bis",
    backlog: bool = False,
    extras: dict[str, Any] | None = None,
) -> Item:
    return Item(
        id=f"i{seq}",
        feed_id=feed,
        title=title,
        published=NOW - timedelta(hours=hours_ago),
        seq=seq,
        backlog=backlog,
        extras=extras or {},
    )


def make_digest(**overrides: Any) -> DigestConfig:
    fields: dict[str, Any] = {"channel": "C0TEST", "at": time(8, 30), "timezone": "Asia/Tokyo"}
    fields.update(overrides)
    return DigestConfig(**fields)


def layout(view: DigestView) -> list[tuple[str, list[str]]]:
    return [(section.topic_id, [item.id for item in section.items]) for section in view.sections]


# -- selection and grouping ----------------------------------------------------------

SELECTION_CASES = [
    pytest.param(
        [
            make_item(1, "New rare earth export licences"),
            make_item(2, "Chip tools: new rules"),
            make_item(3, "Additions to the Entity List"),
        ],
        {},
        [("entity-list", ["i3"]), ("chips", ["i2"]), ("minerals", ["i1"])],
        id="sections-by-priority",
    ),
    pytest.param(
        [
            make_item(1, "Entity List additions under export control rules"),
            make_item(2, "Export control update for allies"),
        ],
        {},
        # i1 matches entity-list and export-controls: shown once, under entity-list.
        [("entity-list", ["i1"]), ("export-controls", ["i2"])],
        id="item-in-two-topics-shown-once-under-higher",
    ),
    pytest.param(
        [make_item(1, "Gallium shortage hits chip makers")],
        {},
        # chips and minerals both have priority 70: chips is defined first.
        [("chips", ["i1"])],
        id="priority-tie-goes-to-config-order",
    ),
    pytest.param(
        [
            make_item(1, "Chip news, oldest", hours_ago=30),
            make_item(2, "Chip news, newest", hours_ago=0.5),
            make_item(3, "Chip news, middle", hours_ago=5),
        ],
        {},
        [("chips", ["i2", "i3", "i1"])],
        id="newest-first-in-a-section",
    ),
    pytest.param(
        [
            make_item(1, "Chip rule A", hours_ago=2),
            make_item(2, "Chip rule B", hours_ago=2),
        ],
        {},
        # Same published time (the Federal Register dates a whole day alike): later stored first.
        [("chips", ["i2", "i1"])],
        id="equal-times-later-stored-first",
    ),
    pytest.param(
        [
            make_item(1, "Chip export rule"),
            make_item(2, "Entity List additions", backlog=True),
            make_item(3, "Chip export rule", feed="reuters", extras={"duplicate_of": 1}),
        ],
        {},
        [("chips", ["i1"])],
        id="backlog-and-duplicates-left-out",
    ),
    pytest.param(
        [
            make_item(1, "Chip export rule", feed="fr-bis"),
            make_item(2, "Chip makers react", feed="reuters"),
            make_item(3, "Entity List additions", feed="nikkei"),
        ],
        {"feeds": ("fr-bis", "nikkei")},
        [("entity-list", ["i3"]), ("chips", ["i1"])],
        id="feeds-filter",
    ),
    pytest.param(
        [
            make_item(1, "Entity List additions include a chip maker"),
            make_item(2, "Entity List additions"),
            make_item(3, "Rare earth quotas"),
        ],
        {"topics": ("chips",)},
        # Only chips is this channel's: i1 goes there; i2 and i3 are not asked for.
        [("chips", ["i1"])],
        id="digest-topics-limit-and-regroup",
    ),
    pytest.param(
        [
            make_item(1, "Weather report"),
            make_item(2, "Chip plant opens"),
        ],
        {},
        # The weather report is an "other new item", not in any topic section.
        [("chips", ["i2"])],
        id="item-matching-no-topic-not-in-a-section",
    ),
    pytest.param(
        [make_item(1, "Entity List additions"), make_item(2, "Chip plant opens")],
        {"topics": ("chips", "retired-topic")},
        # A topic id the configuration no longer defines is ignored, not an error.
        [("chips", ["i2"])],
        id="unknown-digest-topic-ignored",
    ),
    pytest.param([], {}, [], id="no-candidates"),
]


@pytest.mark.parametrize(("items", "overrides", "expected"), SELECTION_CASES)
def test_selection_and_grouping(
    items: list[Item], overrides: dict[str, Any], expected: list[tuple[str, list[str]]]
) -> None:
    view = build_digest_view(items, make_digest(**overrides), TOPICS, now=NOW)
    assert layout(view) == expected
    assert view.item_count == sum(len(ids) for _, ids in expected)


def test_priority_tie_follows_config_order_both_ways() -> None:
    item = make_item(1, "Gallium shortage hits chip makers")
    reordered = (TOPICS[0], TOPICS[1], TOPICS[3], TOPICS[2])  # minerals before chips
    view = build_digest_view([item], make_digest(), reordered, now=NOW)
    assert layout(view) == [("minerals", ["i1"])]


def test_section_titles_use_description_else_id() -> None:
    items = [make_item(1, "Entity List additions"), make_item(2, "Chip plant opens")]
    view = build_digest_view(items, make_digest(), TOPICS, now=NOW)
    assert [s.title for s in view.sections] == ["Entity List", "chips"]


# -- max_items, more_count, more_hint -------------------------------------------------

CUT_CASES = [
    pytest.param(
        3,
        [make_item(i, f"Entity List change {i}", hours_ago=i) for i in range(1, 5)]
        + [make_item(i, f"Chip rule {i}", hours_ago=i) for i in range(5, 8)],
        [("entity-list", ["i1", "i2", "i3"])],
        4,  # i4, and all three chips items
        "/brief latest chips",  # chips lost 3, entity-list 1
        id="lower-priority-section-gives-way",
    ),
    pytest.param(
        4,
        [make_item(i, f"Entity List change {i}", hours_ago=i) for i in range(1, 4)]
        + [make_item(i, f"Chip rule {i}", hours_ago=i) for i in range(4, 7)],
        [("entity-list", ["i1", "i2", "i3"]), ("chips", ["i4"])],
        2,
        "/brief latest chips",
        id="cut-inside-a-section",
    ),
    pytest.param(
        2,
        [make_item(i, f"Entity List change {i}", hours_ago=i) for i in range(1, 5)]
        + [make_item(i, f"Chip rule {i}", hours_ago=i) for i in range(5, 7)],
        [("entity-list", ["i1", "i2"])],
        4,
        # Both lost 2: the hint names the higher-priority topic.
        "/brief latest entity-list",
        id="equal-cuts-hint-the-higher-priority",
    ),
    pytest.param(
        10,
        [make_item(1, "Entity List change"), make_item(2, "Chip rule")],
        [("entity-list", ["i1"]), ("chips", ["i2"])],
        0,
        "/brief latest",
        id="nothing-cut",
    ),
]


@pytest.mark.parametrize(("max_items", "items", "expected", "more_count", "more_hint"), CUT_CASES)
def test_max_items_cut(
    max_items: int,
    items: list[Item],
    expected: list[tuple[str, list[str]]],
    more_count: int,
    more_hint: str,
) -> None:
    view = build_digest_view(items, make_digest(max_items=max_items), TOPICS, now=NOW)
    assert layout(view) == expected
    assert view.item_count <= max_items
    assert (view.more_count, view.more_hint) == (more_count, more_hint)


# -- no topics at all: one "Latest" section --------------------------------------------


def test_config_without_topics_puts_everything_under_latest() -> None:
    items = [
        make_item(1, "Weather report", hours_ago=3),
        make_item(2, "Chip plant opens", hours_ago=1, feed="reuters"),
        make_item(3, "Old news", backlog=True),
        make_item(4, "Town fair", hours_ago=2),
    ]
    view = build_digest_view(items, make_digest(max_items=2), (), now=NOW)
    assert layout(view) == [("latest", ["i2", "i4"])]
    assert view.sections[0].title == "Latest"
    assert (view.more_count, view.more_hint) == (1, "/brief latest")


def test_config_with_topics_but_digest_naming_none_uses_every_topic() -> None:
    items = [make_item(1, "Weather report"), make_item(2, "Rare earth quotas")]
    view = build_digest_view(items, make_digest(topics=()), TOPICS, now=NOW)
    assert layout(view) == [("minerals", ["i2"])]


# -- the cursor -------------------------------------------------------------------------


def test_covered_through_seq_counts_every_candidate() -> None:
    items = [
        make_item(3, "Chip rule"),
        make_item(9, "Weather report"),  # matches no topic
        make_item(7, "Entity List additions", backlog=True),
        make_item(5, "Chip rule", feed="reuters", extras={"duplicate_of": 3}),
        make_item(8, "Chip rule, later", feed="other"),  # filtered out by feeds
    ]
    view = build_digest_view(items, make_digest(feeds=("fr-bis", "reuters")), TOPICS, now=NOW)
    assert layout(view) == [("chips", ["i3"])]
    assert view.covered_through_seq == 9


def test_covered_through_seq_includes_items_cut_by_max_items() -> None:
    items = [make_item(i, f"Chip rule {i}", hours_ago=20 - i) for i in range(1, 21)]
    view = build_digest_view(items, make_digest(max_items=5), TOPICS, now=NOW)
    assert [item.seq for item in view.sections[0].items] == [20, 19, 18, 17, 16]
    assert view.more_count == 15
    assert view.covered_through_seq == 20


# -- date label ---------------------------------------------------------------------------

DATE_CASES = [
    # 03:00 UTC on the 25th: noon in Tokyo, still the evening of the 24th in New York.
    pytest.param("2026-11-25 03:00", "Asia/Tokyo", "Wednesday 25 November 2026", id="tokyo"),
    pytest.param("2026-11-25 03:00", "America/New_York", "Tuesday 24 November 2026", id="ny"),
    # 15:30 UTC on the 24th: Tokyo has just passed midnight (00:30 on the 25th).
    pytest.param("2026-11-24 15:30", "Asia/Tokyo", "Wednesday 25 November 2026", id="tokyo-0030"),
    pytest.param("2026-11-24 14:30", "Asia/Tokyo", "Tuesday 24 November 2026", id="tokyo-2330"),
    pytest.param("2026-12-31 23:00", "UTC", "Thursday 31 December 2026", id="utc-year-end"),
    pytest.param(
        "2026-12-31 23:00", "Europe/Berlin", "Friday 1 January 2027", id="berlin-new-year"
    ),
]


@pytest.mark.parametrize(("instant", "zone", "expected"), DATE_CASES)
def test_date_label_is_the_date_in_the_channel_zone(instant: str, zone: str, expected: str) -> None:
    now = datetime.fromisoformat(instant).replace(tzinfo=UTC)
    view = build_digest_view([], make_digest(timezone=zone), TOPICS, now=now)
    assert view.date_label == expected
    assert format_date_label(now, make_digest(timezone=zone)) == expected


def test_unknown_time_zone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="C0TEST: time zone 'Asia/Tokio' is not a known"):
        build_digest_view([], make_digest(timezone="Asia/Tokio"), TOPICS, now=NOW)


# -- matching details ------------------------------------------------------------------------


def test_feed_tags_count_for_tag_queries() -> None:
    topics = (TopicConfig(id="japan", query="tag:japan", priority=5),)
    items = [make_item(1, "METI notice", feed="meti"), make_item(2, "BIS notice", feed="fr-bis")]
    view = build_digest_view(
        items, make_digest(), topics, now=NOW, feed_tags={"meti": ("japan", "gov")}
    )
    assert layout(view) == [("japan", ["i1"])]


def test_relative_filters_in_topic_queries_use_now() -> None:
    topics = (TopicConfig(id="fresh-chips", query="chip since:1d"),)
    items = [make_item(1, "Chip rule", hours_ago=30), make_item(2, "Chip rule", hours_ago=3)]
    view = build_digest_view(items, make_digest(), topics, now=NOW)
    assert layout(view) == [("fresh-chips", ["i2"])]


def test_a_broken_topic_query_does_not_stop_the_digest() -> None:
    topics = (
        TopicConfig(id="broken", query='"unclosed AND (', priority=100),
        TopicConfig(id="chips", query="chip"),
    )
    view = build_digest_view([make_item(1, "Chip rule")], make_digest(), topics, now=NOW)
    assert layout(view) == [("chips", ["i1"])]


def test_naive_and_aware_times_sort_together() -> None:
    naive = Item(
        id="n", feed_id="f", title="Chip A", published=datetime(2026, 11, 24, 23, 0), seq=1
    )
    aware = make_item(2, "Chip B", hours_ago=3)  # 21:30 UTC on the 24th
    view = build_digest_view([aware, naive], make_digest(), TOPICS, now=NOW)
    assert layout(view) == [("chips", ["n", "i2"])]


# -- what templates get --------------------------------------------------------------------------


def test_items_carry_feed_names_for_templates() -> None:
    primary = make_item(
        1,
        "Chip export rule",
        hours_ago=0.5,
        extras={"also_in": ["reuters", "gone"], "entity_list": {"added": 3}},
    )
    plain = make_item(2, "Chip plant opens", feed="nikkei")
    view = build_digest_view(
        [primary, plain],
        make_digest(),
        TOPICS,
        now=NOW,
        feed_names={"fr-bis": "Federal Register: BIS", "reuters": "Reuters"},
    )
    first, second = view.sections[0].items
    assert first.extras == {
        "also_in": ["reuters", "gone"],
        "entity_list": {"added": 3},
        "feed_name": "Federal Register: BIS",
        "also_in_names": ["Reuters", "gone"],  # an unknown feed is shown by its id
    }
    assert second.extras == {"feed_name": "nikkei"}
    assert primary.extras == {"also_in": ["reuters", "gone"], "entity_list": {"added": 3}}
    assert (first.title, first.seq, first.link) == (primary.title, primary.seq, primary.link)


def test_large_candidate_set_is_cut_and_ordered() -> None:
    titles = ["Entity List entry", "Export control note", "Chip item", "Rare earth item", "Other"]
    items = [
        make_item(seq, f"{titles[seq % 5]} {seq}", hours_ago=seq % 97, feed=f"f{seq % 7}")
        for seq in range(1, 5001)
    ]
    view = build_digest_view(items, make_digest(max_items=20), TOPICS, now=NOW)
    assert view.item_count == 20
    assert view.more_count == 4000 - 20
    # "Other" matches nothing: counted, none shown (the topics took max_items).
    assert (view.others_count, view.others) == (1000, ())
    assert view.new_count == 5000  # every candidate accounted for
    assert view.covered_through_seq == 5000
    assert [s.topic_id for s in view.sections] == ["entity-list"]
    times = [item.when for item in view.sections[0].items]
    assert times == sorted(times, reverse=True)
    assert view.more_hint == "/brief latest export-controls"


# -- other new items: matching none of the digest's topics ------------------------------


def weather(count: int, *, first_seq: int = 100) -> list[Item]:
    """`count` items no topic matches, the first the newest."""
    return [make_item(first_seq + n, f"Weather report {n}", hours_ago=n + 1) for n in range(count)]


def others_of(view: DigestView) -> list[str]:
    return [item.id for item in view.others]


@pytest.mark.parametrize(
    ("mode", "shown", "count"),
    [
        pytest.param("show", ["i100", "i101"], 2, id="show"),
        pytest.param("count", [], 2, id="count"),
        pytest.param("hide", [], 0, id="hide"),
    ],
)
def test_items_matching_no_topic_are_shown_counted_or_hidden(
    mode: str, shown: list[str], count: int
) -> None:
    items = [make_item(1, "Chip plant opens"), *weather(2)]
    view = build_digest_view(items, make_digest(others=mode), TOPICS, now=NOW)
    assert layout(view) == [("chips", ["i1"])]
    assert (others_of(view), view.others_count, view.others_mode) == (shown, count, mode)
    assert view.new_count == 1 + count
    assert view.others_hint == "/brief latest others"


def test_other_new_items_are_capped_newest_first_and_carry_feed_names() -> None:
    items = list(reversed(weather(8)))  # stored oldest first
    view = build_digest_view(
        items, make_digest(), TOPICS, now=NOW, feed_names={"fr-bis": "Federal Register: BIS"}
    )
    assert view.sections == ()
    assert others_of(view) == [f"i{100 + n}" for n in range(OTHERS_SHOWN)]
    assert view.others_count == 8
    assert view.new_count == 8 and not view.is_empty
    assert view.others[0].extras["feed_name"] == "Federal Register: BIS"


def test_other_new_items_get_what_max_items_leaves() -> None:
    items = [make_item(i, f"Chip rule {i}", hours_ago=i) for i in range(1, 4)] + weather(4)
    view = build_digest_view(items, make_digest(max_items=4), TOPICS, now=NOW)
    assert layout(view) == [("chips", ["i1", "i2", "i3"])]
    assert (others_of(view), view.others_count) == (["i100"], 4)
    full = build_digest_view(items, make_digest(max_items=3), TOPICS, now=NOW)
    assert (others_of(full), full.others_count, full.new_count) == ([], 4, 7)


@pytest.mark.parametrize(
    ("count", "hint"),
    [
        (10, "/brief latest others"),  # `/brief latest` lists 10 unless told
        (11, "/brief latest others 11"),
        (80, "/brief latest others 50"),  # and at most 50
    ],
)
def test_the_others_hint_lists_them_all_as_far_as_latest_goes(count: int, hint: str) -> None:
    view = build_digest_view(weather(count), make_digest(), TOPICS, now=NOW)
    assert view.others_hint == hint


def test_items_of_topics_the_digest_does_not_name_are_other_for_it() -> None:
    items = [make_item(1, "Entity List additions"), make_item(2, "Chip plant opens")]
    view = build_digest_view(items, make_digest(topics=("chips",)), TOPICS, now=NOW)
    assert layout(view) == [("chips", ["i2"])]
    assert others_of(view) == ["i1"]


def test_backlog_duplicates_and_other_feeds_are_not_other_new_items() -> None:
    items = [
        make_item(1, "Weather", backlog=True),
        make_item(2, "Weather", feed="reuters", extras={"duplicate_of": 9}),
        make_item(3, "Weather", feed="elsewhere"),
        make_item(4, "Weather"),
    ]
    view = build_digest_view(items, make_digest(feeds=("fr-bis", "reuters")), TOPICS, now=NOW)
    assert (others_of(view), view.others_count) == (["i4"], 1)
    keep = other_item_filter(make_digest(feeds=("fr-bis", "reuters")), TOPICS, now=NOW)
    assert [item.id for item in items if keep(item)] == ["i4"]


def test_without_any_topic_nothing_is_other() -> None:
    view = build_digest_view(weather(3), make_digest(), (), now=NOW)
    assert layout(view) == [("latest", ["i100", "i101", "i102"])]
    assert (view.others, view.others_count) == ((), 0)
    assert not other_item_filter(make_digest(), (), now=NOW)(weather(1)[0])


def test_nothing_new_at_all_is_empty() -> None:
    view = build_digest_view(
        [make_item(1, "Weather", backlog=True)], make_digest(), TOPICS, now=NOW
    )
    assert view.is_empty and view.new_count == 0


# -- the period a digest covers ------------------------------------------------------------

PERIOD_CASES = [
    # (the last digest, now, zone, the period the header names)
    pytest.param(
        "2026-11-23 23:30",
        "2026-11-24 23:30",
        "Asia/Tokyo",
        "since Tuesday 24 November, 08:30 JST",
        id="tokyo",
    ),
    pytest.param(
        "2026-11-24 13:30",
        "2026-11-25 13:30",
        "America/New_York",
        "since Tuesday 24 November, 08:30 EST",
        id="new-york",
    ),
    pytest.param(
        "2026-07-01 06:30",
        "2026-07-02 06:30",
        "Europe/Berlin",
        "since Wednesday 1 July, 08:30 CEST",
        id="summer-time",
    ),
    # A zone without an abbreviation is named by its offset.
    pytest.param(
        "2026-11-24 01:30",
        "2026-11-25 01:30",
        "Asia/Ho_Chi_Minh",
        "since Tuesday 24 November, 08:30 UTC+07",
        id="offset",
    ),
    # Local dates: 1 January in Tokyo is still 31 December in UTC.
    pytest.param(
        "2025-12-31 23:30",
        "2026-01-01 23:30",
        "Asia/Tokyo",
        "since Thursday 1 January, 08:30 JST",
        id="local-new-year",
    ),
    # The year only when it is not this year's.
    pytest.param(
        "2025-12-30 23:30",
        "2026-01-01 23:30",
        "Asia/Tokyo",
        "since Wednesday 31 December 2025, 08:30 JST",
        id="last-year",
    ),
]


@pytest.mark.parametrize(("since", "now", "zone", "expected"), PERIOD_CASES)
def test_period_label_is_the_last_digest_in_the_channel_zone(
    since: str, now: str, zone: str, expected: str
) -> None:
    last, moment = (datetime.fromisoformat(t).replace(tzinfo=UTC) for t in (since, now))
    digest = make_digest(timezone=zone)
    assert format_period_label(last, moment, digest) == expected
    view = build_digest_view([], digest, TOPICS, now=moment, since=last)
    assert view.period_label == expected


def test_no_since_no_period_label() -> None:
    assert build_digest_view([], make_digest(), TOPICS, now=NOW).period_label == ""


def test_summaries_follow_the_digest_setting() -> None:
    assert build_digest_view([], make_digest(summaries=True), TOPICS, now=NOW).summaries
    assert not build_digest_view([], make_digest(), TOPICS, now=NOW).summaries


def test_digest_deadlines_are_this_weeks_on_the_digests_topics_in_its_zone() -> None:
    from datetime import date

    from bot.brief.digest import digest_deadlines
    from bot.ingest.fedreg.facts import EXTRAS_KEY, FederalRegisterFacts

    def rule(number: str, feed: str, title: str, effective: date) -> Item:
        facts = FederalRegisterFacts(number, "Rule", effective_on=effective)
        return Item(
            id=number,
            feed_id=feed,
            title=title,
            seq=int(number[-1]),
            backlog=True,
            extras={EXTRAS_KEY: facts.as_extras()},
        )

    items = [
        rule("2024-00001", "fr-bis", "Entity List additions", date(2024, 2, 1)),
        rule("2024-00002", "fr-bis", "Entity List revisions", date(2024, 2, 8)),  # next week
        rule("2024-00003", "fr-bis", "Fisheries quota", date(2024, 2, 1)),  # off topic
    ]
    topics = [TopicConfig(id="el", query='"entity list"')]
    tokyo = DigestConfig(channel="C1", at=time(8), timezone="Asia/Tokyo")
    # 1 Feb 23:00 UTC is 2 Feb in Tokyo: its week runs 2-8 Feb.
    late = datetime(2024, 2, 1, 23, 0, tzinfo=UTC)
    assert [d.document_number for d in digest_deadlines(items, tokyo, topics, now=late)] == [
        "2024-00002"
    ]
    utc = DigestConfig(channel="C1", at=time(8), timezone="UTC")
    found = digest_deadlines(items, utc, topics, now=late)
    assert [d.document_number for d in found] == ["2024-00001"]
