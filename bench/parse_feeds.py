"""Feed documents made to be expensive to parse: hostile ones (issue 12) and merely large ones.

All are generated, deterministic and served as they are (no corpus needed):

- `lt_summary_feed`: one item whose summary is `&lt;a` repeated (400,000 times by
  default): after XML decoding, `<a<a<a…`, on which html.parser is quadratic.
- `categories_feed`: one item with 20,000 `<category>` elements: feedparser
  de-duplicates an entry's tags with a list scan per tag (quadratic).
- `many_entries_feed`: 100,000 small items, about 5.3 MB (issue 12's size).
- `html_heavy_feed`: about 10 MB of items whose descriptions are whole
  articles in HTML (paragraphs, links, emphasis, lists, figures, a table),
  about 10 KB each: the work is converting HTML to text.
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

__all__ = [
    "categories_feed",
    "html_heavy_feed",
    "lt_summary_feed",
    "many_entries_feed",
]

_HEAD = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>%s</title><link>https://feeds.example.org/</link><description>bench</description>\n"
)
_TAIL = b"</channel></rss>\n"

_WORDS_TEXT = (
    "export controls semiconductor supply chain entity list ministry trade policy tariff "
    "economic security rare earth gallium germanium licence review committee announced "
    "the a of to and in on for with by from after before between under agreement partners "
    "manufacturers equipment advanced computing lithography wafer foundry capacity investment "
    "subsidies sanctions compliance regulators industry officials said Tuesday report"
)
_WORDS = tuple(_WORDS_TEXT.split())


def _item(number: int, title: str, description: bytes = b"", extra: bytes = b"") -> bytes:
    return (
        b"<item><title>%s</title><link>https://feeds.example.org/%d</link>"
        b'<guid isPermaLink="false">bench-%d</guid>%s%s</item>\n'
        % (escape(title).encode(), number, number, description, extra)
    )


def lt_summary_feed(repeats: int = 400_000) -> bytes:
    """One item whose summary decodes to `<a` × `repeats` (issue 12: a core busy for hours)."""
    description = b"<description>" + b"&lt;a" * repeats + b"</description>"
    return _HEAD % b"Hostile: &lt;a" + _item(1, "Angle brackets", description) + _TAIL


def categories_feed(count: int = 20_000) -> bytes:
    """One item with `count` distinct `<category>` elements (feedparser: 59 s at 20,000)."""
    categories = b"".join(b"<category>topic %d</category>" % n for n in range(count))
    description = b"<description>Many categories.</description>"
    return _HEAD % b"Hostile: categories" + _item(1, "Categories", description, categories) + _TAIL


def many_entries_feed(count: int = 100_000) -> bytes:
    """`count` small items (a title and a guid): about 53 bytes each, 5.3 MB for 100,000."""
    items = b"".join(
        b"<item><title>E%d</title><guid>%d</guid></item>\n" % (n, n) for n in range(count)
    )
    return _HEAD % b"Many entries" + items + _TAIL


def _article(rng: random.Random, size: int) -> str:
    """An article in HTML of about `size` characters, shaped like a news site's."""

    def words(n: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(n))

    parts: list[str] = []
    length = 0
    while length < size:
        kind = rng.randrange(10)
        if kind < 6:
            block = (
                f'<p class="article-body">{words(25)} <a href="https://news.example.org/'
                f'{rng.randrange(10**6)}" rel="noopener">{words(3)}</a> {words(15)} '
                f"<em>{words(2)}</em>, <strong>{words(2)}</strong> {words(10)}.</p>"
            )
        elif kind < 8:
            block = "<ul>" + "".join(f"<li>{words(8)}</li>" for _ in range(4)) + "</ul>"
        elif kind == 8:
            block = (
                f'<figure><img src="https://img.example.org/{rng.randrange(10**6)}.jpg" '
                f'alt="{words(4)}" width="640" height="360" loading="lazy"/>'
                f"<figcaption>{words(9)}</figcaption></figure>"
            )
        else:
            rows = "".join(
                f"<tr><td>{words(2)}</td><td>{rng.randrange(1000)}</td></tr>" for _ in range(3)
            )
            block = f'<table style="width:100%"><tbody>{rows}</tbody></table>'
        parts.append(block)
        length += len(block)
    return "\n".join(parts)


def html_heavy_feed(target_bytes: int = 10 * 1000 * 1000, article_chars: int = 10_000) -> bytes:
    """Items whose descriptions are whole HTML articles, up to about `target_bytes`."""
    rng = random.Random(12)
    chunks = [_HEAD % b"HTML-heavy"]
    size, number = len(chunks[0]), 0
    while size < target_bytes:
        number += 1
        html = _article(rng, article_chars)
        description = b"<description>" + escape(html).encode() + b"</description>"
        chunk = _item(number, f"Article {number}", description)
        chunks.append(chunk)
        size += len(chunk)
    chunks.append(_TAIL)
    return b"".join(chunks)
