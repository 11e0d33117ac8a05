"""Hostile feed text and command text cannot mention, forge links or break layout in Slack.

Everything is real and on loopback: a feed server serving entries whose titles,
summaries, authors, tags and links carry Slack control sequences, mrkdwn,
newlines, bidi overrides and bad links; a Runtime polling them into a TinyDB
store in tmp_path; the real slack_sdk clients posting digests, alerts and ops
notices to the fake Slack (tests/support/fakeslack.py); and the Bolt app answering
correctly signed `/brief` requests over HTTP through a loopback response_url.

`check_message` is the one rule book, applied to every message that reached
the fake Slack or the response_url in every test: no `<!…>`, `<@…>`, `<#…>`
except the bot's own date tokens; every link is one of the feed items' own
http(s) links, its target free of `|`, its label free of `<`/`>` (a `|` in a
label is text: Slack ends the target at the first `|`); `&`, `<`, `>` of feed
or user text escaped; no bidi override or zero-width character; every mrkdwn
text object `verbatim` (Slack then links no bare `@here` or URL); no
`link_names` or `parse`, no unfurling. Layout is asserted per kind of message:
the blocks each message should have, and the exact lines of each item block,
so a newline in feed text cannot add a line or a block. mrkdwn marks from feeds
(`*`, `_`, `~`, backticks, a leading `&gt;`) stay as render.py decided: they
can style at most their own item block, which the block counts pin down.

Not obvious:
- The hostile feed's first poll is served empty: a feed's first poll is
  backlog (never alerted or digested), and the hostile items must be news.
- RSS descriptions are HTML: a summary meant to read `<!here>` is served as
  `&amp;lt;!here&amp;gt;` (escaped for HTML, then for XML); a tag would be
  stripped as markup, which `html-summary` checks as well.
- Slack sends a typed `@channel` as `<!channel>` and a typed `<` as `&lt;`;
  commands are sent in both forms.
- The query limits are asserted through the error texts naming them
  (bot.find.query's MAX_* and the command's 4,000 characters), never through time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import html
import http.client
import itertools
import re
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest

from bot.app.commands.dispatch import MAX_COMMAND_CHARS, handle_command
from bot.app.runtime import Runtime
from bot.app.scheduler.jobs import BotScheduler
from bot.config.model import Config, SlackSecrets
from bot.config.schema import parse_config_text
from bot.deliver.alerts import ALERT_ITEMS_PER_MESSAGE
from bot.find.query.syntax import MAX_DEPTH, MAX_QUERY_CHARS, MAX_TERMS
from bot.slack.app import BriefbotApp, build_app
from bot.slack.client import make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.http import ServerHandle, serve_http
from tests.support.backends import Backend, BackendKind, fresh_backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet
from tests.support.responseurl import ResponseUrlServer

ADMIN = "U0ADMIN0001"
MEMBER = "U0MEMBER001"
NEWS = "C0NEWSROOM1"  # where the commands are typed
ALERTS = "C0ALERTS001"
DIGEST_THREAD = "C0DIGTHRD01"
DIGEST_FLAT = "C0DIGFLAT01"
DIGEST_SUMMARIES = "C0DIGSUMM01"  # summaries: true
DIGEST_OTHERS = "C0DIGOTHR01"  # a topic nothing matches: every item is an "other new item"
OPS = "C0OPSROOM01"
FEED_NAME = "Hostile wire"
SIGNING_SECRET = "1nj3ct10n-s1gn1ng-s3cr3t-f0r-t3sts"
NOW = datetime.now(UTC).replace(microsecond=0)
MAX_ITEMS = 40
FILLERS = 30
# Where the broken feed redirects: a non-http URL, so the refusal quotes it.
HOSTILE_LOCATION = "ftp://evil.example/<!channel>|<https://evil.example|Click here>&x=<@U12345>"
REFUSED = (
    "redirect to a non-http(s) URL refused: ftp://evil.example/&lt;!channel&gt;"
    "|&lt;https://evil.example|Click here&gt;&amp;x=&lt;@U12345&gt;"
)


@dataclass(frozen=True)
class Hostile:
    """One feed entry. `target`: its link as it must appear in a Slack token (None: no link);
    `shown`: text of the title as Slack must receive it (escaped)."""

    key: str
    title: str
    shown: str
    summary: str = ""
    link: str = ""
    target: str | None = None
    title_xml: str | None = None  # raw XML instead of the escaped title (CDATA)
    summary_html: bool = False  # the summary is HTML (escaped once) rather than text
    minutes_ago: int = 0


HOSTILE = [
    Hostile(
        "mentions",
        "<!channel> <!here> <!everyone> Entity List probe",
        "&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; Entity List probe",
        summary="<!here> wake up <!everyone>",
        link="https://example.org/a?x=1&y=2",
        target="https://example.org/a?x=1&amp;y=2",
    ),
    Hostile(
        "people",
        "<@U12345> and <#C12345> and <@W99999|boss> probe",
        "&lt;@U12345&gt; and &lt;#C12345&gt; and &lt;@W99999|boss&gt; probe",
        summary="<#C12345|general> <@U12345|ceo> said",
        link="https://example.org/people",
        target="https://example.org/people",
    ),
    Hostile(
        "subteam",
        "<!subteam^S123|@security> probe",
        "&lt;!subteam^S123|@security&gt; probe",
        summary="<!subteam^S123>",
        link="https://example.org/subteam",
        target="https://example.org/subteam",
    ),
    Hostile(
        "fake-link",
        "<https://evil.example|Click here> probe",
        "&lt;https://evil.example|Click here&gt; probe",
        summary="<https://evil.example/reset|Reset your password> now",
        link="https://example.org/fake-link",
        target="https://example.org/fake-link",
    ),
    Hostile(
        "pipes",
        "x|<https://evil.example>|y probe",
        "x|&lt;https://evil.example&gt;|y probe",
        link="https://example.org/pipes",
        target="https://example.org/pipes",
    ),
    Hostile(
        "raw-lt-gt-amp",
        # feedparser reads an RSS title as HTML: its &lt; becomes <
        "AT&T < 5 > 3 && &lt;!here&gt; probe",
        "AT&amp;T &lt; 5 &gt; 3 &amp;&amp; &lt;!here&gt; probe",
        summary="a < b > c & d &amp; e",
        link="https://example.org/amp",
        target="https://example.org/amp",
    ),
    Hostile(
        "markdown",
        "```fence *bold* _it_ ~x~ `tick probe",
        "```fence *bold* _it_ ~x~ `tick probe",
        summary="``` close the fence ``` *b* >>> quote the rest",
        link="https://example.org/markdown",
        target="https://example.org/markdown",
    ),
    Hostile(
        "quote",
        "> quoted title probe",
        "&gt; quoted title probe",
        summary="> quoted summary\n>>> and the rest",
        link="https://example.org/quote",
        target="https://example.org/quote",
    ),
    Hostile(
        "newlines",
        "first line\n\n*fake item*\n• bullet probe",
        "first line *fake item* • bullet probe",
        summary="a\nb\n\n\n> c\r\n```",
        link="https://example.org/newlines",
        target="https://example.org/newlines",
    ),
    Hostile(
        "bidi-zero-width",
        "pay\u200b\u202eevil\u202c\u2066x\u2069\ufeff probe",
        "payevilx probe",
        summary="rtl \u202dover\u202c ride \u2067iso\u2069",
        link="https://example.org/bidi",
        target="https://example.org/bidi",
    ),
    Hostile(
        "long-word",
        "probe " + "W" * 5000,
        "probe " + "W" * 200,
        summary="probe " + "x" * 20000,
        link="https://example.org/long",
        target="https://example.org/long",
    ),
    Hostile(
        "javascript-link",
        "javascript link probe",
        "javascript link probe",
        link="javascript:alert(document.cookie)",
    ),
    Hostile(
        "data-link",
        "data link probe",
        "data link probe",
        link="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    ),
    Hostile(
        "hostile-url",
        "hostile url probe",
        "hostile url probe",
        link="https://evil.example/a|b>c?x=<!here>&y=`",
        target="https://evil.example/a%7Cb%3Ec?x=%3C!here%3E&amp;y=%60",
    ),
    Hostile(
        "date-token",
        "<!date^1392734382^{date_pretty}|Feb 18> probe",
        "&lt;!date^1392734382^{date_pretty}|Feb 18&gt; probe",
        summary="<!date^1392734382^{time}^https://evil.example|now>",
        link="https://example.org/date",
        target="https://example.org/date",
    ),
    Hostile(
        "cdata",
        "",
        "&lt;!channel&gt; in cdata probe",
        title_xml="<![CDATA[<!channel> in cdata probe]]>",
        link="https://example.org/cdata",
        target="https://example.org/cdata",
    ),
    Hostile(
        "html-summary",
        "html summary probe",
        "html summary probe",
        summary=(
            '<a href="javascript:alert(1)">click</a> <script>alert("<!channel>")</script>'
            "<b>&lt;!here&gt;</b> bold"
        ),
        summary_html=True,
        link="https://example.org/html",
        target="https://example.org/html",
    ),
    Hostile(
        "untitled",
        "",
        "https://example.org/probe/&lt;!channel&gt;",
        link="https://example.org/probe/<!channel>",
        target="https://example.org/probe/%3C!channel%3E",
    ),
]
HOSTILE = [dataclasses.replace(h, minutes_ago=n) for n, h in enumerate(HOSTILE, start=1)]
FILLER = [
    Hostile(
        f"filler-{n}",
        f"probe filler {n} " + "<!channel> " * 30,
        f"probe filler {n} &lt;!channel&gt;",
        summary="<!here> " * 100,
        link=f"https://example.org/filler/{n}",
        target=f"https://example.org/filler/{n}",
        minutes_ago=120 + n,
    )
    for n in range(FILLERS)
]
ENTRIES = HOSTILE + FILLER
# Every link target the bot may write: the entries' own http(s) links, escaped.
TARGETS = frozenset(e.target for e in ENTRIES if e.target is not None)
HOSTILE_AUTHOR = "<!channel> <@U12345> & Co"
HOSTILE_TAG = "<#C12345|general>"


def hostile_rss(entries: Sequence[Hostile]) -> bytes:
    """RSS 2.0 with each entry's strings reaching the parser as exactly that text."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
        "<title>&lt;!channel&gt; wire</title><link>https://example.org/</link>",
        "<description>hostile</description>",
    ]
    for e in entries:
        title = e.title_xml if e.title_xml is not None else escape(e.title)
        # A description is HTML: escape text once for HTML, then for XML.
        summary = e.summary if e.summary_html else html.escape(e.summary, quote=False)
        parts.append(f"<item><title>{title}</title>")
        if e.link:
            parts.append(f"<link>{escape(e.link)}</link>")
        parts.append(f'<guid isPermaLink="false">{e.key}</guid>')
        if e.summary:
            parts.append(f"<description>{escape(summary)}</description>")
        parts.append(f"<dc:creator>{escape(HOSTILE_AUTHOR)}</dc:creator>")
        parts.append(f"<category>{escape(HOSTILE_TAG)}</category>")
        published = NOW - timedelta(minutes=e.minutes_ago)
        parts.append(f"<pubDate>{format_datetime(published)}</pubDate></item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


# --------------------------------------------------------------------------- the rule book

_TOKEN = re.compile(r"<([^<>]*)>")
_BOT_DATE = re.compile(
    r"!date\^[0-9]+\^\{date_short_pretty\} \{time\}"
    r"\|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC"
)
_RAW_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
_INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b\ufeff]")
_BLOCK_TYPES = frozenset({"header", "section", "context", "divider", "actions"})


@dataclass(frozen=True)
class Link:
    target: str
    label: str


def check_message(payload: Mapping[str, Any], where: str) -> list[Link]:
    """Assert one message as sent to Slack is free of injected markup; return its links."""
    assert not payload.get("link_names"), f"{where}: link_names set"
    assert payload.get("parse") in (None, "none"), f"{where}: parse={payload.get('parse')!r}"
    assert payload.get("unfurl_links") in (False, None), f"{where}: links unfurl"
    assert payload.get("unfurl_media") in (False, None), f"{where}: media unfurl"
    assert not payload.get("attachments"), f"{where}: attachments are not expected"
    links: list[Link] = []
    text = payload.get("text")
    assert isinstance(text, str) and text.strip(), f"{where}: no fallback text"
    links += _check_text(text, "mrkdwn", f"{where} text")
    blocks = payload.get("blocks") or []
    assert len(blocks) <= 50, f"{where}: {len(blocks)} blocks"
    for number, block in enumerate(blocks):
        spot = f"{where} block {number}"
        assert block.get("type") in _BLOCK_TYPES, f"{spot}: unexpected {block.get('type')!r}"
        objects = [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]
        # Buttons (issue 15): their labels are plain text objects of their own.
        buttons = [o for o in objects if o and o.get("type") == "button"]
        buttons += [block["accessory"]] if "accessory" in block else []
        objects = [o for o in objects if not (o and o.get("type") == "button")]
        for element in buttons:
            label = element["text"]
            assert label["type"] == "plain_text" and 0 < len(label["text"]) <= 75, spot
        for obj in objects:
            if obj is None:
                continue
            assert obj.get("type") in ("mrkdwn", "plain_text"), f"{spot}: {obj!r}"
            limit = 150 if block["type"] == "header" else 3000
            assert 0 < len(obj["text"]) <= limit, f"{spot}: text length {len(obj['text'])}"
            if obj["type"] == "mrkdwn":
                # Slack would otherwise link a bare @here, #channel or URL in feed text.
                assert obj.get("verbatim") is True, f"{spot}: mrkdwn without verbatim"
            links += _check_text(obj["text"], obj["type"], spot)
    return links


def _check_text(text: str, kind: str, where: str) -> list[Link]:
    assert not _INVISIBLE.search(text), f"{where}: bidi or zero-width character in {text!r}"
    bad = _RAW_AMPERSAND.search(text)
    assert bad is None, f"{where}: unescaped & in {text[max(bad.start() - 30, 0) :][:80]!r}"
    if kind == "plain_text":
        assert "<" not in text and ">" not in text, f"{where}: markup in plain text {text!r}"
        return []
    outside = _TOKEN.sub("", text)
    assert "<" not in outside and ">" not in outside, f"{where}: stray < or > in {text!r}"
    links = []
    for token in _TOKEN.finditer(text):
        inner = token.group(1)
        if inner.startswith(("!", "@", "#")):
            # The only special sequence the bot writes: its own date token.
            assert _BOT_DATE.fullmatch(inner), f"{where}: special sequence <{inner}>"
            continue
        target, _, label = inner.partition("|")
        assert target in TARGETS, f"{where}: link to {target!r}, not a feed item's link"
        links.append(Link(target, label))
    return links


@dataclass(frozen=True)
class Sent:
    """One message as it reached Slack: where, its payload, its thread."""

    where: str
    payload: Mapping[str, Any]
    ts: str | None = None
    thread_ts: str | None = None

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.payload.get("blocks") or [])


def block_text(block: Mapping[str, Any]) -> str:
    if block.get("type") == "context":
        return "\n".join(e["text"] for e in block["elements"])
    text = block.get("text")
    return text["text"] if isinstance(text, Mapping) else ""


# An answer to a question numbers the items it cites: "[1] *<link|title>*".
_TITLE_LINE = re.compile(
    r"(?:\[[0-9]{1,3}\] )?\*(?:<(?P<target>[^<>|]+)\|(?P<label>[^<>]*)>|(?P<plain>[^<>\n]*))\*"
)
_META_LINE = re.compile(
    re.escape(FEED_NAME) + r" · <!date\^[0-9]+\^\{date_short_pretty\} \{time\}\|[^<>]+>"
)


def item_blocks(blocks: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The lines of each block that shows one item (a title line, then the feed and date)."""
    found = []
    for block in blocks:
        lines = block_text(block).split("\n")
        if block["type"] == "section" and len(lines) >= 2 and _META_LINE.fullmatch(lines[1]):
            assert _TITLE_LINE.fullmatch(lines[0]), f"item title line {lines[0]!r}"
            found.append(lines)
    return found


def assert_item_shown_as_text(sent: Sequence[Sent], entry: Hostile) -> None:
    """The entry's title reached Slack escaped, linked to its own link (or not linked)."""
    titles = [lines[0] for s in sent for lines in item_blocks(s.blocks) if entry.shown in lines[0]]
    assert titles, f"{entry.key}: {entry.shown!r} not shown"
    for line in titles:
        match = _TITLE_LINE.fullmatch(line)
        assert match is not None
        assert match.group("target") == entry.target, f"{entry.key}: {line!r}"


# --------------------------------------------------------------------------- the world


_names = itertools.count(1)


@dataclass
class World:
    """A polled Runtime, the Bolt app over HTTP, the fake Slack and a response_url."""

    runtime: Runtime
    slack: FakeSlack
    deliverer: Deliverer
    app: BriefbotApp
    server: ServerHandle
    responses: ResponseUrlServer
    feeds_port: int

    def command(self, text: str, *, user: str = MEMBER, channel: str = NEWS) -> list[Sent]:
        """`/brief text` as a signed request; every reply posted to its response_url.

        `{port}` in `text` is the feed server's port (wire.example resolves to it).
        """
        text = text.replace("{port}", str(self.feeds_port))
        name = f"c{next(_names)}"
        form = {
            "token": "verification-token",
            "team_id": "T0FAKETEAM",
            "channel_id": channel,
            "channel_name": "news",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/brief",
            "text": text,
            "api_app_id": "A0FAKEAPP",
            "response_url": self.responses.url(name),
            "trigger_id": f"{name}.4242.{hashlib.sha1(text.encode()).hexdigest()[:12]}",
        }
        body = urlencode(form).encode()
        stamp = str(int(time.time()))
        signature = hmac.new(
            SIGNING_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            connection.request(
                "POST",
                "/slack/events",
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": stamp,
                    "X-Slack-Signature": "v0=" + signature,
                },
            )
            status = connection.getresponse().status
        finally:
            connection.close()
        assert status == 200, f"/brief {text[:60]!r}: HTTP {status}"
        self.responses.wait(name, timeout=20)
        # The reply's messages go out one after another from one lazy listener.
        assert self.app.work.wait_idle(20)
        replies = self.responses.replies(name)
        assert replies, f"/brief {text[:60]!r}: no reply"
        return [Sent(f"/brief {text[:40]!r} reply {n}", r.payload) for n, r in enumerate(replies)]

    def posted(self, channel: str | None = None) -> list[Sent]:
        return [
            Sent(f"post to {m.channel}", m.params, m.ts, m.thread_ts)
            for m in self.slack.messages(channel)
        ]

    def check_all(self) -> list[Link]:
        """Apply check_message to everything that reached Slack or a response_url."""
        everything = self.posted() + [
            Sent(f"ephemeral in {m.channel}", m.params) for m in self.slack.ephemerals()
        ]
        everything += [
            Sent(f"response {n}", r.payload) for n, r in enumerate(self.responses.replies())
        ]
        assert everything, "nothing reached Slack"
        links = []
        for sent in everything:
            links += check_message(sent.payload, sent.where)
        return links


def config_text(data_dir: Path, feeds: FeedServer) -> str:
    return (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n  max_redirects: 2\n"
        "feeds:\n"
        f"  - id: hostile\n    name: {FEED_NAME}\n    url: {feeds.url('/hostile.xml')}\n"
        "    allow_private: true\n    tags: [wire]\n"
        f"  - id: broken\n    name: Broken wire\n    url: {feeds.url('/broken.xml')}\n"
        "    allow_private: true\n"
        "topics:\n"
        "  - id: probe\n    query: probe\n    description: everything the feed sends\n"
        "  - id: quiet\n    query: zzzquietzzz\n"
        "digests:\n"
        f"  - channel: {DIGEST_THREAD}\n    at: '08:30'\n    timezone: UTC\n"
        f"    max_items: {MAX_ITEMS}\n    thread: true\n"
        f"  - channel: {DIGEST_FLAT}\n    at: '08:30'\n    timezone: UTC\n"
        f"    max_items: {MAX_ITEMS}\n    thread: false\n"
        f"  - channel: {DIGEST_SUMMARIES}\n    at: '08:30'\n    timezone: UTC\n"
        f"    max_items: {MAX_ITEMS}\n    summaries: true\n"
        f"  - channel: {DIGEST_OTHERS}\n    at: '08:30'\n    timezone: UTC\n"
        "    topics: [quiet]\n    summaries: true\n"
        f"admins: [{ADMIN}]\n"
        f"ops_channel: {OPS}\n"
    )


def open_runtime(data_dir: Path, feeds: FeedServer, backend: Backend) -> Runtime:
    text = config_text(data_dir, feeds)
    config: Config = parse_config_text(text, "injection.yaml", env=backend.env())
    # `feed add` fetches before saving: wire.example is the feed server, evil.example nowhere.
    network = loopback_internet(FakeResolver({"wire.example": ["127.0.0.1"]}))
    return Runtime.open(config, network=network)


@dataclass(frozen=True)
class Template:
    data_dir: Path
    store: Backend  # on PostgreSQL, the database polled (copied by each test)


@dataclass(frozen=True)
class Templates:
    feeds: FeedServer
    kind: BackendKind
    fresh: Template  # both feeds polled once: hostile (empty, so backlog is done), broken
    polled: Template  # then polled again: the hostile entries stored as news


def copy_dir(source: Path, target: Path) -> None:
    if source.exists():  # on PostgreSQL the bot may have made none
        shutil.copytree(source, target)


@pytest.fixture(scope="module")
def templates(
    tmp_path_factory: pytest.TempPathFactory, backend_kind: BackendKind
) -> Iterator[Templates]:
    """Stores polled once, copied by each test (a poll costs a few tenths); on both backends."""
    feeds = FeedServer().start()
    try:
        root = tmp_path_factory.mktemp("injection")
        feeds.add("/hostile.xml", hostile_rss([]))
        feeds.add("/broken.xml", redirect_to=HOSTILE_LOCATION)
        feeds.add("/x", hostile_rss(HOSTILE[:3]))  # what `feed add` tries
        with fresh_backend(backend_kind) as fresh:
            with open_runtime(root / "fresh", feeds, fresh) as rt:
                reports = {r.feed_id: r for r in rt.poll(force=True)}
            assert reports["hostile"].status == "ok", reports
            assert reports["broken"].status == "error", reports
            copy_dir(root / "fresh", root / "polled")
            feeds.add("/hostile.xml", hostile_rss(ENTRIES))
            with fresh_backend(backend_kind, copy_of=fresh) as polled:
                with open_runtime(root / "polled", feeds, polled) as rt:
                    reports = {r.feed_id: r for r in rt.poll(force=True)}
                new = (reports["hostile"].new_items, reports["hostile"].backlog)
                assert new == (len(ENTRIES), False), reports
                yield Templates(
                    feeds,
                    backend_kind,
                    Template(root / "fresh", fresh),
                    Template(root / "polled", polled),
                )
    finally:
        feeds.stop()
    assert not feeds.errors, f"feed server handler errors: {feeds.errors!r}"


def _world(
    templates: Templates,
    source: Template,
    tmp_path: Path,
    slack: FakeSlack,
    responses: ResponseUrlServer,
) -> Iterator[World]:
    with fresh_backend(templates.kind, copy_of=source.store) as backend:
        yield from _world_on(backend, source, tmp_path, templates.feeds, slack, responses)


def _world_on(
    backend: Backend,
    source: Template,
    tmp_path: Path,
    feeds: FeedServer,
    slack: FakeSlack,
    responses: ResponseUrlServer,
) -> Iterator[World]:
    copy_dir(source.data_dir, tmp_path / "data")
    runtime = open_runtime(tmp_path / "data", feeds, backend)
    secrets = SlackSecrets(bot_token=slack.token, signing_secret=SIGNING_SECRET, api_url=slack.url)
    deliverer = Deliverer(make_web_client(secrets, timeout=5, backoff=0.05), interval=0.0)
    app = build_app(secrets, functools.partial(handle_command, runtime, poster=deliverer))
    server = serve_http(app, port=0, host="127.0.0.1")
    try:
        yield World(runtime, slack, deliverer, app, server, responses, feeds.port)
    finally:
        server.stop()
        runtime.close()


@pytest.fixture
def polled(
    templates: Templates, tmp_path: Path, fake_slack: FakeSlack, responses: ResponseUrlServer
) -> Iterator[World]:
    yield from _world(templates, templates.polled, tmp_path, fake_slack, responses)


@pytest.fixture
def fresh(
    templates: Templates, tmp_path: Path, fake_slack: FakeSlack, responses: ResponseUrlServer
) -> Iterator[World]:
    yield from _world(templates, templates.fresh, tmp_path, fake_slack, responses)


# --------------------------------------------------------------------------- the store


def test_the_store_holds_the_hostile_text_verbatim(polled: World) -> None:
    # Otherwise every other test here would pass vacuously.
    items = {i.id: i for i in polled.runtime.store.items.after()}
    by_title = {i.title: i for i in items.values()}
    assert len(items) == len(ENTRIES)
    assert "<!channel> <!here> <!everyone> Entity List probe" in by_title
    assert "<@U12345> and <#C12345> and <@W99999|boss> probe" in by_title
    assert "<!channel> in cdata probe" in by_title
    assert by_title["hostile url probe"].link == "https://evil.example/a|b>c?x=<!here>&y=`"
    assert by_title["javascript link probe"].link is None
    assert by_title["data link probe"].link is None
    assert by_title["AT&T < 5 > 3 && <!here> probe"].summary == "a < b > c & d & e"
    assert any("\u202e" in title for title in by_title)  # the renderer must drop it
    mentions = by_title["<!channel> <!here> <!everyone> Entity List probe"]
    assert mentions.summary == "<!here> wake up <!everyone>"
    assert mentions.authors == (HOSTILE_AUTHOR,)
    assert mentions.tags == (HOSTILE_TAG.lower(),)
    assert by_title["html summary probe"].summary == "click <!here> bold"


# --------------------------------------------------------------------------- digests


@pytest.mark.parametrize(
    ("channel", "threaded"),
    [pytest.param(DIGEST_THREAD, True, id="threaded"), pytest.param(DIGEST_FLAT, False, id="flat")],
)
def test_the_digest_shows_feed_text_as_text_in_its_intended_layout(
    polled: World, channel: str, threaded: bool
) -> None:
    # What the scheduler's digest job runs, for "now" rather than the last 08:30 slot
    # (a channel's first digest counts from when the bot first saw it).
    digest = polled.runtime.digest_config(channel)
    assert digest is not None
    outcome = polled.runtime.send_digest(digest, polled.deliverer)

    assert outcome is not None and outcome.status == "sent", outcome
    assert outcome.items == MAX_ITEMS
    links = polled.check_all()
    sent = polled.posted(channel)
    assert len(sent) >= 2, "40 long items cannot fit one message"
    first, rest = sent[0], sent[1:]
    # The summary: header, what it covers, counts per topic, where the details are, the
    # command for the rest.
    kinds = ["header", "context", "section", "context", "context"]
    assert [b["type"] for b in first.blocks] == kinds
    more = len(ENTRIES) - MAX_ITEMS
    assert block_text(first.blocks[1]).startswith(f"*{len(ENTRIES)} new items* since ")
    assert block_text(first.blocks[2]) == (
        f"• everything the feed sends: {MAX_ITEMS}\n• and {more} more"
    )
    where = "Details in the thread." if threaded else "Details in the next messages."
    assert block_text(first.blocks[3]) == where
    assert first.thread_ts is None
    assert [s.thread_ts for s in rest] == [first.ts if threaded else None] * len(rest)
    # The details: one heading, one block of exactly two lines per item, the rest counted.
    blocks = [b for s in rest for b in s.blocks]
    items = [lines for s in rest for lines in item_blocks(s.blocks)]
    assert block_text(blocks[0]) == f"*everything the feed sends* ({MAX_ITEMS})"
    assert block_text(blocks[-2]) == f"and {more} more: `/brief latest probe`"
    # Issue 15: and a button showing them all to whoever presses it.
    [show_all] = blocks[-1]["elements"]
    assert show_all["value"] == f"latest probe {len(ENTRIES)}"
    assert len(blocks) == 1 + MAX_ITEMS + 2
    assert len(items) == MAX_ITEMS
    assert all(len(lines) == 2 for lines in items), [ls for ls in items if len(ls) != 2]
    for entry in HOSTILE:
        assert_item_shown_as_text(rest, entry)
    # Each linked item links to its own link, once.
    targets = [link.target for link in links if link.target in {e.target for e in HOSTILE}]
    assert sorted(targets) == sorted(e.target for e in HOSTILE if e.target)
    assert all("<" not in link.label and ">" not in link.label for link in links)


def test_one_line_summaries_show_feed_text_as_text(polled: World) -> None:
    digest = polled.runtime.digest_config(DIGEST_SUMMARIES)
    assert digest is not None
    assert polled.runtime.send_digest(digest, polled.deliverer).status == "sent"
    polled.check_all()
    blocks = [block_text(b) for s in polled.posted(DIGEST_SUMMARIES) for b in s.blocks]
    lines = {text.split("\n")[0]: text.split("\n") for text in blocks if "\n" in text}
    for entry, summary in [
        ("mentions", "&lt;!here&gt; wake up &lt;!everyone&gt;"),
        ("people", "&lt;#C12345|general&gt; &lt;@U12345|ceo&gt; said"),
        ("fake-link", "&lt;https://evil.example/reset|Reset your password&gt; now"),
    ]:
        shown = next(e.shown for e in HOSTILE if e.key == entry)
        block = next(ls for first, ls in lines.items() if shown in first)
        assert block[1] == summary, entry


def test_other_new_items_show_feed_text_as_text(polled: World) -> None:
    digest = polled.runtime.digest_config(DIGEST_OTHERS)
    assert digest is not None
    assert polled.runtime.send_digest(digest, polled.deliverer).status == "sent"
    polled.check_all()
    texts = [block_text(b) for s in polled.posted(DIGEST_OTHERS) for b in s.blocks]
    assert texts[1].startswith(f"*{len(ENTRIES)} new items* since ")
    assert f"*Other new items* ({len(ENTRIES)})" in texts
    assert texts[-2] == f"{len(ENTRIES) - 5} more: `/brief latest others {len(ENTRIES)}`"
    [show_all] = polled.posted(DIGEST_OTHERS)[-1].blocks[-1]["elements"]  # issue 15
    assert show_all["value"] == f"latest others {len(ENTRIES)}"
    # The newest five: the first hostile entries, their titles escaped.
    for entry in HOSTILE[:5]:
        assert any(entry.shown in text for text in texts), entry.key


# --------------------------------------------------------------------------- alerts


def test_alerts_by_direct_message_and_in_a_channel_keep_feed_text_as_text(fresh: World) -> None:
    [mine] = fresh.command("subscribe probe")
    [theirs] = fresh.command(f"subscribe <#{ALERTS}|alerts> probe", user=ADMIN)
    ids = []
    for reply, where in ((mine, "by direct message"), (theirs, "in #alerts")):
        said = re.match(
            r"Subscribed to topic probe \(id (\w+)\): alerts (.+?) as soon",
            block_text(reply.blocks[0]),
        )
        assert said is not None and said.group(2) == where, block_text(reply.blocks[0])
        ids.append(said.group(1))

    [polled] = fresh.command("feed poll", user=ADMIN)

    fresh.check_all()
    report = block_text(polled.blocks[0]).split("\n")
    assert report[:2] == ["Polled 2 feeds:", f"• hostile: {len(ENTRIES)} new, 0 already seen"]
    # The refused redirect's Location is feed-controlled: it must arrive escaped.
    assert report[2] == f"• broken: failed: {REFUSED}"
    assert report[3] == f"Alerts sent: {2 * len(ENTRIES)} items in 2 messages."
    direct = fresh.posted("D" + MEMBER)
    channel = fresh.posted(ALERTS)
    assert len(direct) == 1 and len(channel) == 1
    for alert, subscription in ((direct[0], ids[0]), (channel[0], ids[1])):
        blocks = alert.blocks
        items = item_blocks(blocks)
        more = len(ENTRIES) - ALERT_ITEMS_PER_MESSAGE
        assert block_text(blocks[0]) == f"*{len(ENTRIES)} new items* for your subscriptions"
        assert block_text(blocks[-3]) == f"and {more} more: `/brief latest`"
        assert block_text(blocks[-2]) == (
            f"Sent by subscription {subscription}. `/brief mute {subscription}` pauses it, "
            f"`/brief unsubscribe {subscription}` removes it."
        )
        # Issue 15: the same as buttons, and "More like this" beside each item.
        buttons = [(b["action_id"], b["value"]) for b in blocks[-1]["elements"]]
        assert buttons == [
            ("subscription.mute", subscription),
            ("subscription.remove", subscription),
        ]
        shown_items = [b for b in blocks if b.get("accessory")]
        assert len(shown_items) == ALERT_ITEMS_PER_MESSAGE
        assert len(blocks) == 1 + ALERT_ITEMS_PER_MESSAGE + 3
        assert len(items) == ALERT_ITEMS_PER_MESSAGE
        for lines in items:
            # title, feed and date, the summary (when there is one), what matched
            assert len(lines) in (3, 4), lines
            assert lines[-1] == f"Matched: topic probe ({subscription})"
        shown = "\n".join(block_text(b) for b in blocks)
        assert "&lt;!here&gt; wake up &lt;!everyone&gt;" in shown
        assert "&lt;#C12345|general&gt; &lt;@U12345|ceo&gt; said" in shown
        assert "&lt;https://evil.example/reset|Reset your password&gt; now" in shown
        assert "a &lt; b &gt; c &amp; d &amp; e" in shown


# --------------------------------------------------------------------------- ops notices


def test_an_ops_notice_about_a_failing_feed_carries_its_error_as_text(polled: World) -> None:
    # The broken feed has failed since the template's first poll; any threshold above 0 is past.
    scheduler = BotScheduler(polled.runtime, polled.deliverer, failure_notice_hours=1e-9)

    given = scheduler.check_feed_health()

    assert len(given) == 1
    polled.check_all()
    [notice] = polled.posted(OPS)
    assert [b["type"] for b in notice.blocks] == ["section"]
    text = block_text(notice.blocks[0])
    assert text.startswith("Feed Broken wire (broken) has been failing for ")
    assert f"Last error: {REFUSED}." in text


# --------------------------------------------------------------------------- every /brief reply


@dataclass(frozen=True)
class Case:
    """Commands typed in order; the last reply must contain `expect` (as sent to Slack)."""

    steps: tuple[tuple[str, str], ...]  # (user, text)
    expect: tuple[str, ...] = ()
    lines: int | None = None  # the last reply is one section of exactly this many lines
    items: int | None = None  # the last reply shows exactly this many items


def case(*steps: str | tuple[str, str], expect: Sequence[str] = (), **kw: Any) -> Case:
    typed = tuple((MEMBER, s) if isinstance(s, str) else s for s in steps)
    return Case(typed, tuple(expect), **kw)


def admin(text: str) -> tuple[str, str]:
    return (ADMIN, text)


COMMANDS = [
    pytest.param(case("help", expect=["`/brief help`  this list"]), id="help"),
    pytest.param(case("", expect=["`/brief help`"]), id="empty-is-help"),
    pytest.param(
        case(
            "search probe",
            expect=[f"*{len(ENTRIES)} results* for “probe”, the best 10 below"],
            items=10,
        ),
        id="search",
    ),
    pytest.param(
        # As Slack sends a typed @channel: the bot searches the word, finds the feed's "<!channel>".
        case("search <!channel>", expect=["for “@channel”", "&lt;!channel&gt;"], items=10),
        id="search-mention-token",
    ),
    pytest.param(
        case(
            "search &lt;!here&gt; wake",
            expect=["for “&lt;!here&gt; wake”", "&lt;!*here*&gt; *wake*"],
        ),
        id="search-with-literal-markup",
    ),
    pytest.param(
        # A question in plain words: the words it searched for, as text.
        case("&lt;!here&gt; wake today", expect=["(today) on “here wake”."]),
        id="question-with-literal-markup",
    ),
    pytest.param(
        case(
            'search <!channel> "unclosed',
            expect=["query error: unclosed quote at column 10", '`@channel ▶"unclosed`'],
            lines=3,
        ),
        id="malformed-query-echo",
    ),
    pytest.param(
        case(
            'search &lt;!channel&gt; &lt;@U12345&gt; "unclosed',
            expect=['`&lt;!channel&gt; &lt;@U12345&gt; ▶"unclosed`'],
            lines=3,
        ),
        id="malformed-query-literal-echo",
    ),
    pytest.param(
        case("search fence` (broken", expect=["`fence' ▶(broken`"], lines=3),
        id="malformed-query-backtick-echo",
    ),
    pytest.param(
        case(
            "search <https://evil.example|Click here> <@U0BOSS0001|boss> <#C0GENERAL1|general>"
            " <@U12345|short> ```x``` _y_",
            expect=["for “Click here @boss #general &lt;@U12345|short&gt; ```x``` _y_”"],
        ),
        id="search-slack-tokens",
    ),
    pytest.param(case("latest", expect=["for “latest”"], items=10), id="latest"),
    pytest.param(case("latest 3", items=3), id="latest-n"),
    pytest.param(
        case("latest probe 5", expect=["for “latest on probe”"], items=5), id="latest-topic"
    ),
    pytest.param(case("latest hostile 4", expect=[FEED_NAME], items=4), id="latest-feed"),
    pytest.param(
        case("latest <!here> &lt;!here&gt;", expect=["“latest: @here &lt;!here&gt;”"]),
        id="latest-query",
    ),
    pytest.param(
        case("latest &lt;!channel&gt; 999", expect=["n must be between 1 and 50"], lines=2),
        id="latest-bad-n",
    ),
    pytest.param(case("feeds", expect=[f"• *hostile* {FEED_NAME} · tags: wire"]), id="feeds"),
    pytest.param(case("topics", expect=["• *probe*: everything the feed sends"]), id="topics"),
    pytest.param(
        case("status", expect=[REFUSED]),
        id="status",
    ),
    pytest.param(
        case(
            'subscribe &lt;!channel&gt; "a|b" `c`',
            "subscriptions",
            expect=['query &lt;!channel&gt; "a|b" `c`'],
        ),
        id="subscribe-hostile-query",
    ),
    pytest.param(
        case("subscribe <!everyone> daily 08:00 tz:&lt;!here&gt;", expect=["&lt;!here&gt;"]),
        id="subscribe-hostile-zone",
    ),
    pytest.param(
        case(
            admin(f"subscribe <#{ALERTS}|&lt;!channel&gt;> probe"),
            admin("subscriptions all"),
            expect=[f"for {ALERTS}"],
        ),
        id="subscribe-channel-then-list-all",
    ),
    pytest.param(
        case("subscribe probe", admin(f"subscriptions <@{MEMBER}|&lt;!here&gt;>")),
        id="subscriptions-of-a-user",
    ),
    pytest.param(
        case("unsubscribe <!channel>", expect=["@channel"], lines=2), id="unsubscribe-token"
    ),
    pytest.param(
        case("mute &lt;@U12345&gt;", expect=["&lt;@U12345&gt;"], lines=2), id="mute-literal"
    ),
    pytest.param(case("unmute a b <#C12345|x>", expect=["not 3"], lines=2), id="unmute-too-many"),
    pytest.param(case("digest", expect=["Preview of this channel's digest"]), id="digest-preview"),
    pytest.param(
        case(admin("digest post"), expect=["Posted this channel's digest (20 items)."]),
        id="digest-post",
    ),
    pytest.param(
        case("digest <!everyone> &lt;!here&gt;", expect=["'@everyone &lt;!here&gt;'"], lines=2),
        id="digest-unknown-option",
    ),
    pytest.param(case("schedule", expect=["No digest is scheduled"]), id="schedule-show"),
    pytest.param(
        case(admin("schedule 08:30 &lt;!here&gt;"), expect=["&lt;!here&gt;"]),
        id="schedule-hostile-zone",
    ),
    pytest.param(
        case(admin("schedule <!date^1392734382^{time}|now>"), expect=["'now' is not a time"]),
        id="schedule-date-token",
    ),
    pytest.param(
        case(admin("schedule 07:15 UTC mon-fri"), admin("schedule off"), expect=["Removed"]),
        id="schedule-set-and-off",
    ),
    pytest.param(
        case(
            admin("feed add <https://evil.example/feed?a=1&amp;b=&lt;!channel&gt;|Click> <!here>"),
            expect=[
                "Cannot add https://evil.example/feed?a=1&amp;b=&lt;!channel&gt;: could not "
                "connect to evil.example: could not resolve host name"
            ],
            lines=1,
        ),
        id="feed-add-hostile",
    ),
    pytest.param(
        case(
            admin("feed add http://wire.example:{port}/x?&lt;!channel&gt; &lt;@U12345&gt;"),
            "feeds",
            expect=["• *wire-example-x* · tags: &lt;@u12345&gt; · every 30m · enabled"],
        ),
        id="feed-add-then-feeds",
    ),
    pytest.param(
        case(admin("feed add javascript:alert(1)&lt;!channel&gt;"), expect=["&lt;!channel&gt;"]),
        id="feed-add-javascript",
    ),
    pytest.param(
        case(admin("feed pause <!channel>"), expect=["@channel"], lines=2), id="feed-pause-token"
    ),
    pytest.param(
        case(admin("feed remove &lt;#C12345&gt;"), expect=["&lt;#C12345&gt;"], lines=2),
        id="feed-remove-literal",
    ),
    pytest.param(
        case(admin("feed <!here> x"), expect=["unknown feed command '@here'"], lines=2),
        id="feed-unknown-action",
    ),
    pytest.param(
        case(admin("feed poll <@U12345>"), expect=["no feed '&lt;@U12345&gt;'"], lines=2),
        id="feed-poll-unknown",
    ),
    pytest.param(
        case(admin("feed poll"), expect=[f"• hostile: 0 new, {len(ENTRIES)} already seen"]),
        id="feed-poll",
    ),
    pytest.param(
        case("feed add https://example.org/x", expect=["Only admins can add feeds"]),
        id="member-refused",
    ),
    pytest.param(
        case(
            "frobnicate <!channel> ```", expect=["No items*: items from ", "“frobnicate channel”"]
        ),
        id="unknown-sub-command",
    ),
    pytest.param(
        case("&lt;!channel&gt; " * 300, expect=["/brief takes up to 4,000"], lines=1),
        id="over-long-command",
    ),
]


@pytest.mark.parametrize("spec", COMMANDS)
def test_every_command_reply_keeps_user_and_feed_text_as_text(polled: World, spec: Case) -> None:
    replies: list[Sent] = []
    for user, text in spec.steps:
        replies = polled.command(text, user=user)

    polled.check_all()
    shown = "\n".join(block_text(b) for r in replies for b in r.blocks)
    for fragment in spec.expect:
        assert fragment in shown, f"{fragment!r} not in\n{shown}"
    if spec.lines is not None:
        [reply] = replies
        assert [b["type"] for b in reply.blocks] == ["section"]
        assert len(shown.split("\n")) == spec.lines, shown
    items = [lines for r in replies for lines in item_blocks(r.blocks)]
    if spec.items is not None:
        assert len(items) == spec.items
    for lines in items:
        # title, feed and date, and at most the snippet: feed text adds no line
        assert len(lines) in (2, 3), lines


# --------------------------------------------------------------------------- queries stay cheap

_TERMS = " ".join(f"w{n}" for n in range(MAX_TERMS + 1))


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        pytest.param(
            "(" * (MAX_DEPTH + 1) + "probe" + ")" * (MAX_DEPTH + 1),
            f"more than {MAX_DEPTH} levels of parentheses",
            id="nesting-past-limit",
        ),
        pytest.param(
            "(" * MAX_DEPTH + "probe" + ")" * MAX_DEPTH,
            f"*{len(ENTRIES)} results*",
            id="nesting-at-limit",
        ),
        pytest.param(
            "(" * 1900 + "a" + ")" * 1900,
            f"the limit is {MAX_QUERY_CHARS:,}",
            id="nesting-3801-chars",
        ),
        pytest.param(
            " ".join(f"t{n}" for n in range(10_000)),
            f"/brief takes up to {MAX_COMMAND_CHARS:,}",
            id="10k-terms",
        ),
        pytest.param(_TERMS, f"too many terms: the limit is {MAX_TERMS}", id="terms-past-limit"),
        pytest.param(
            " ".join(f"w{n}" for n in range(MAX_TERMS)), "No results for", id="terms-at-limit"
        ),
        pytest.param(
            " OR ".join(["probe"] * (MAX_TERMS + 1)), f"the limit is {MAX_TERMS}", id="or-chain"
        ),
        pytest.param(
            "*".join("abcdefghijklmnopqrstuvwxyz" * 10) + "*",
            "* can only end a word",
            id="wildcard-chain",
        ),
        pytest.param(
            " ".join(["pr*"] * (MAX_TERMS + 1)), f"the limit is {MAX_TERMS}", id="many-wildcards"
        ),
        pytest.param("p" * 900 + "*", "No results for", id="long-wildcard"),
        pytest.param("a*", "at least 2 letters before the *", id="short-wildcard"),
        pytest.param(
            '"' + " ".join(["probe"] * 160) + '"', "No results for", id="phrase-of-160-words"
        ),
        pytest.param(
            '"' + " ".join(["probe"] * 400) + '"',
            f"the limit is {MAX_QUERY_CHARS:,}",
            id="huge-phrase",
        ),
        pytest.param('"' + "x" * 990, "unclosed quote at column 1", id="unclosed-long-phrase"),
        pytest.param("NOT " * 200 + "probe", f"*{len(ENTRIES)} results*", id="not-chain"),
        pytest.param("-" * 900 + " probe", f"*{len(ENTRIES)} results*", id="dash-run"),
        pytest.param("since:99999d probe", "needs a duration", id="huge-duration"),
    ],
)
def test_a_pathological_query_gets_an_answer_or_names_the_limit(
    polled: World, text: str, expect: str
) -> None:
    replies = polled.command("search " + text)

    polled.check_all()
    shown = "\n".join(block_text(b) for r in replies for b in r.blocks)
    assert expect in shown, shown[:500]
    assert len(replies) == 1
