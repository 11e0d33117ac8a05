"""What the tests of `/brief` sub-commands share: the configuration, the feeds, reading a reply.

The tests run every sub-command over a real Runtime: loopback feeds, a store
in tmp_path, and the real slack_sdk client talking to the fake Slack where a
command must post. Each test reads the reply as a user would (the blocks'
text through `mrkdwn_to_plain`), and where a command changes something, looks
at the store, the configuration or what reached Slack. The fixtures are in
conftest.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.config.model import Config, SlackSecrets
from bot.config.schema import parse_config_text
from bot.deliver.ports import Poster
from bot.models import CommandReply, CommandRequest, SlackMessage
from bot.render.mrkdwn import mrkdwn_to_plain
from bot.slack.client import make_web_client
from tests.support.backends import Backend, BackendKind
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer

ADMIN = "U0ADMIN0001"
MEMBER = "U0MEMBER001"
OTHER = "U0OTHER0001"
CHANNEL = "C0BRIEFING1"
NOW = datetime.now(UTC)


def _today_minus(minutes: int) -> datetime:
    """`minutes` before NOW, yet today (UTC): `today` questions find the new items even
    in the first half hour after midnight (then seconds past 00:00, in the same order)."""
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(NOW - timedelta(minutes=minutes), midnight + timedelta(seconds=60 - minutes))


OLD = [
    Entry(
        "Rare earth export quotas unchanged",
        "https://example.org/old/1",
        guid="old-1",
        summary="Quotas for rare earth exports stay at last year's level.",
        published=NOW - timedelta(days=3),
    )
]
NEW = [
    Entry(
        "BIS adds 36 entities to the Entity List",
        "https://example.org/new/entity",
        guid="new-entity",
        summary="Additions to the Entity List under the destinations of China and Japan.",
        published=_today_minus(30),
    ),
    Entry(
        "IPEF ministers sign supply chain agreement",
        "https://example.org/new/ipef",
        guid="new-ipef",
        summary="The Indo-Pacific Economic Framework partners signed the agreement.",
        published=_today_minus(20),
    ),
    Entry(
        "Chips 4 alliance meets in Tokyo",
        "https://example.org/new/chips",
        guid="new-chips",
        summary="Semiconductor supply talks between four governments.",
        published=_today_minus(10),
    ),
]


def make_config(
    data_dir: Path,
    feeds: Mapping[str, str],
    *,
    admins: Sequence[str] = (ADMIN,),
    extra: str = "",
    env: Mapping[str, str] | None = None,
) -> Config:
    feed_lines = "".join(
        f"  - id: {fid}\n    url: {url}\n    allow_private: true\n    tags: [trade]\n"
        for fid, url in feeds.items()
    )
    admin_list = ", ".join(admins)
    text = (
        "settings:\n"
        f"  data_dir: {data_dir}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        f"feeds:\n{feed_lines}"
        "topics:\n"
        "  - id: entity-list\n    query: '\"entity list\"'\n"
        "    description: BIS Entity List changes\n    priority: 10\n"
        "  - id: ipef\n    query: ipef OR indo-pacific\n    description: IPEF talks\n"
        f"admins: [{admin_list}]\n"
        f"{extra}"
    )
    return parse_config_text(text, "test-feeds.yaml", env=env or {})


@dataclass(frozen=True)
class Template:
    """A store after two polls, copied for each test (polling costs ~0.2 s).

    `data_dir` is copied on both backends; on PostgreSQL `store.url` is the polled database.
    """

    server: FeedServer
    data_dir: Path
    store: Backend
    kind: BackendKind


def serve_defaults(server: FeedServer) -> None:
    server.add("/trade.xml", make_rss(NEW + OLD))
    server.add("/quiet.xml", make_rss([]))


def config_for(server: FeedServer, data_dir: Path, **kw: Any) -> Config:
    urls = {"trade": server.url("/trade.xml"), "quiet": server.url("/quiet.xml")}
    return make_config(data_dir, urls, **kw)


def slack_client(fake: FakeSlack) -> WebClient:
    secrets = SlackSecrets(bot_token=fake.token, api_url=fake.url)
    return make_web_client(secrets, timeout=5, backoff=0.05)


def run(
    runtime: Runtime,
    text: str,
    *,
    user: str = MEMBER,
    channel: str = CHANNEL,
    poster: Poster | None = None,
) -> str:
    """The reply's text as the user reads it."""
    reply = handle_command(runtime, CommandRequest(user, channel, text), poster=poster)
    assert not reply.in_channel
    return plain(reply)


def plain(reply: CommandReply | Sequence[SlackMessage]) -> str:
    messages = reply.messages if isinstance(reply, CommandReply) else reply
    lines = []
    for message in messages:
        for block in message.blocks:
            texts = [block.get("text"), *_text_elements(block)]
            lines += [mrkdwn_to_plain(t["text"]) for t in texts if isinstance(t, Mapping)]
    # Slack shows *bold* and `code` without their marks.
    return "\n".join(lines).replace("*", "").replace("`", "")


def slack_text(posted: Any) -> str:
    """The text a reader sees in a posted message: sections and context lines, in order."""
    shown = []
    for block in posted.blocks:
        if "text" in block:
            shown.append(mrkdwn_to_plain(block["text"]["text"]))
        shown += [mrkdwn_to_plain(e["text"]) for e in _text_elements(block) if "text" in e]
    return "\n".join(shown)


def _text_elements(block: Any) -> list[Any]:
    """A block's elements that are text (a context's); an actions block's buttons are not."""
    return [] if block.get("type") == "actions" else list(block.get("elements", []))
