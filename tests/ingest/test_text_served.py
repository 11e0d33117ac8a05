"""Text a user reads, from feeds that escape, comment and nest wrongly (issue 12, part 9).

Each feed is served over loopback HTTP and polled into a real store; the
stored titles and summaries must read as the publisher's web page does. All
of these kept literal markup or entities before (`&nbsp;`, `&mdash;`,
`<!-- ... >`, `]]>`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ingest.served import poll_served, served_runtime, stored_items
from tests.support.feedserver import FeedServer

# Movable Type writes Atom summaries as `remove_html="1" encode_xml="1"`: the
# tags go, the entities of the HTML stay and are escaped once more, so the
# plain-text summary carries `&nbsp;` and friends literally.
MOVABLE_TYPE = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Trade Law Notes</title>
  <link rel="alternate" type="text/html" href="https://tradelaw.example/"/>
  <id>tag:tradelaw.example,2009:/blog//1</id>
  <updated>2026-11-17T09:00:00Z</updated>
  <generator uri="http://www.sixapart.com/movabletype/">Movable Type 5.2.2</generator>
  <entry>
    <title>Entity List: what the new rule changes</title>
    <link rel="alternate" type="text/html" href="https://tradelaw.example/2026/11/entity-list.html"/>
    <id>tag:tradelaw.example,2026:/blog//1.2551</id>
    <published>2026-11-17T08:00:00Z</published>
    <updated>2026-11-17T09:00:00Z</updated>
    <summary type="text">BIS&amp;nbsp;added 23 entities on Monday&amp;nbsp;&amp;mdash;
      most of them in China&amp;hellip;</summary>
  </entry>
  <entry>
    <title>Licensing delays &amp; the &#8220;is-informed&#8221; letters</title>
    <link rel="alternate" type="text/html" href="https://tradelaw.example/2026/11/licensing.html"/>
    <id>tag:tradelaw.example,2026:/blog//1.2550</id>
    <published>2026-11-16T08:00:00Z</published>
    <updated>2026-11-16T08:00:00Z</updated>
    <summary type="text">Exporters&amp;rsquo; licence applications now take
      60&amp;nbsp;days &amp;ndash; twice last year&amp;rsquo;s&amp;nbsp;wait.</summary>
  </entry>
</feed>
"""

DOUBLE_ESCAPED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<description>wire</description>
<item><title>Chips &amp;amp;mdash; the new export rules</title>
<link>https://wire.example/chips</link>
<description>Ministers&amp;amp;rsquo; plan &amp;amp;mdash;
  due in 2027&amp;amp;hellip;</description></item>
</channel></rss>
"""

COMMENTS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link>
<description>wire</description>
<item><title>Unclosed comment</title><link>https://wire.example/1</link>
<description>sa&lt;!-- -- nonwhitespace &gt;fe</description></item>
<item><title>Empty comment</title><link>https://wire.example/2</link>
<description>Tariffs&lt;!--&gt; rise</description></item>
<item><title>Comment closed by --!&gt;</title><link>https://wire.example/3</link>
<description>Quotas &lt;!-- editor: check --!&gt;hold</description></item>
</channel></rss>
"""

NESTED_CDATA_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Wire</title><link>https://wire.example/</link><description>wire</description>
<item><title>Nested CDATA</title><link>https://wire.example/cdata</link>
<content:encoded><![CDATA[<p>Export rules <![CDATA[tightened]]> on Monday.</p>]]></content:encoded>
</item></channel></rss>
"""

NESTED_CDATA_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><id>urn:wire</id>
<updated>2026-11-17T09:00:00Z</updated>
<entry><id>urn:wire:1</id><title>Nested CDATA in Atom</title>
<link href="https://wire.example/atom-cdata"/><updated>2026-11-17T09:00:00Z</updated>
<content type="html"><![CDATA[<p>Quota <b>talks</b> <![CDATA[resume]]> in Geneva.</p>]]></content>
</entry></feed>
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            MOVABLE_TYPE,
            [
                (
                    "Entity List: what the new rule changes",
                    "BIS added 23 entities on Monday — most of them in China…",
                ),
                (
                    "Licensing delays & the “is-informed” letters",
                    "Exporters’ licence applications now take 60 days – twice last year’s wait.",
                ),
            ],
            id="movable-type-escaped-entities-in-plain-text",
        ),
        pytest.param(
            DOUBLE_ESCAPED,
            [("Chips — the new export rules", "Ministers’ plan — due in 2027…")],
            id="double-escaped-named-entities",
        ),
        pytest.param(
            COMMENTS,
            [
                ("Unclosed comment", "sa"),
                ("Empty comment", "Tariffs rise"),
                ("Comment closed by --!>", "Quotas hold"),
            ],
            id="html-comments-as-browsers-end-them",
        ),
        pytest.param(
            NESTED_CDATA_RSS,
            [("Nested CDATA", "Export rules tightened on Monday.")],
            id="nested-cdata-rss",
        ),
        pytest.param(
            NESTED_CDATA_ATOM,
            [("Nested CDATA in Atom", "Quota talks resume in Geneva.")],
            id="nested-cdata-atom",
        ),
    ],
)
def test_stored_text_reads_as_the_page_does(
    feed_server: FeedServer, tmp_path: Path, body: str, expected: list[tuple[str, str]]
) -> None:
    with served_runtime(feed_server, tmp_path / "data") as runtime:
        poll_served(runtime, feed_server, body.encode())
        assert [(item.title, item.summary) for item in stored_items(runtime)] == expected
