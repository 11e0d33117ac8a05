"""The link an item gets, and entries kept that were dropped (issue 12, part 10).

Feeds served over loopback HTTP, polled by a real Runtime into a real store.
FeedBurner copies link to the publisher's URL (`feedburner:origLink`), not to
the redirect; podcast episodes without a page link to their audio; entries
that have only an enclosure, a GUID URL or an inline SVG are kept. Each of
these failed on the previous code (redirect links, no link, items missing).
"""

from __future__ import annotations

from pathlib import Path

from tests.ingest.served import FEED_ID, poll, poll_served, serve, served_runtime, stored_items
from tests.support.feedserver import FeedServer

FEEDBURNER_NS = 'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"'


def rss(items: str, namespaces: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" {namespaces}><channel>'
        "<title>Feed</title><link>https://publisher.example/</link><description>d</description>\n"
        f"{items}</channel></rss>\n"
    ).encode()


DIRECT = rss(
    "<item><title>U.S. widens chip export curbs to 140 firms</title>"
    "<link>https://publisher.example/2026/11/chip-curbs?utm_source=rss</link>"
    "<guid isPermaLink='false'>direct-881</guid></item>"
)
VIA_FEEDBURNER = rss(
    "<item><title>Chip curbs: the full list of companies</title>"
    "<link>http://feedproxy.google.com/~r/Publisher/~3/AbC123xYz/chip-curbs</link>"
    "<guid isPermaLink='false'>https://publisher.example/?p=881</guid>"
    "<feedburner:origLink>https://publisher.example/2026/11/chip-curbs"
    "?utm_source=feedburner&amp;utm_medium=feed</feedburner:origLink></item>",
    FEEDBURNER_NS,
)


def test_a_feedburner_copy_links_to_the_publisher_and_is_known_as_the_same_story(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    with served_runtime(feed_server, tmp_path / "data", feed_ids=("direct", "burner")) as runtime:
        serve(feed_server, DIRECT, feed_id="direct")
        serve(feed_server, VIA_FEEDBURNER, feed_id="burner")
        poll(runtime, ["direct"])
        poll(runtime, ["burner"])
        direct, copy = stored_items(runtime)
    assert copy.link == "https://publisher.example/2026/11/chip-curbs"
    assert copy.id == "guid:https://publisher.example/?p=881"  # identity unchanged
    assert copy.duplicate_of == direct.seq  # the same link across feeds


def test_a_podcast_episode_without_a_page_links_to_its_audio(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    body = rss(
        "<item><title>Episode 42: tariffs and tomatoes</title>"
        "<guid isPermaLink='false'>ep-42</guid>"
        "<enclosure url='https://cdn.example/audio/ep42.mp3' length='1' type='audio/mpeg'/></item>"
        "<item><title>Episode 41: quotas</title><link>https://pod.example/41</link>"
        "<enclosure url='https://cdn.example/audio/ep41.mp3' length='1' type='audio/mpeg'/></item>"
    )
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, body)
        links = [(item.title, item.link) for item in stored_items(runtime)]
    assert links == [
        ("Episode 42: tariffs and tomatoes", "https://cdn.example/audio/ep42.mp3"),
        ("Episode 41: quotas", "https://pod.example/41"),
    ]


def test_entries_with_only_an_enclosure_or_a_guid_url_are_kept(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    body = rss(
        "<item><enclosure url='https://cdn.example/notices/2026-117.pdf' length='1'"
        " type='application/pdf'/></item>"
        "<item><guid isPermaLink='false'>https://agency.example/notice/2026-118</guid></item>"
        "<item><guid isPermaLink='false'>not-a-url-119</guid></item>"  # nothing to show
    )
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, body)
        kept = [(item.title, item.link, item.id) for item in stored_items(runtime)]
    assert kept == [
        (
            "https://cdn.example/notices/2026-117.pdf",
            "https://cdn.example/notices/2026-117.pdf",
            "link:https://cdn.example/notices/2026-117.pdf",
        ),
        (
            "https://agency.example/notice/2026-118",
            "https://agency.example/notice/2026-118",
            "guid:https://agency.example/notice/2026-118",
        ),
    ]


def test_an_entry_whose_text_is_only_an_inline_svg_is_kept(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    svg = '&lt;svg xmlns="http://www.w3.org/2000/svg" {}&gt;{}&lt;path d="M0 0h9"/&gt;&lt;/svg&gt;'
    body = rss(
        "<item><guid isPermaLink='false'>chart-1</guid><description>"
        + svg.format("", "&lt;title&gt;Chip exports by month&lt;/title&gt;")
        + "</description></item>"
        "<item><guid isPermaLink='false'>chart-2</guid><description>"
        + svg.format('aria-label="Tariff rates, 2018-2026"', "")
        + "</description></item>"
        "<item><guid>https://charts.example/3</guid><description>"
        + svg.format("", "")
        + "</description></item>"
        "<item><guid isPermaLink='false'>chart-4</guid><description>"
        + svg.format("", "")
        + "</description></item>"
    )
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, body)
        kept = [(item.feed_id, item.title, item.link) for item in stored_items(runtime)]
    assert kept == [
        (FEED_ID, "Chip exports by month", None),
        (FEED_ID, "Tariff rates, 2018-2026", None),
        (FEED_ID, "https://charts.example/3", "https://charts.example/3"),
        (FEED_ID, "(image)", None),
    ]
