"""What every handler shares: admin checks and their refusals, long notices split for Slack."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.brief.subscriptions import create_subscription
from bot.models import CommandRequest
from bot.render.slacklimits import validate_message
from tests.app.commands.cases import ADMIN, CHANNEL, NOW, make_config, plain, run
from tests.support.backends import Backend
from tests.support.feedserver import FeedServer


@pytest.mark.parametrize(
    ("text", "action"),
    [
        pytest.param("feed add https://example.org/rss", "add feeds", id="feed-add"),
        pytest.param("feed remove trade", "remove feeds", id="feed-remove"),
        pytest.param("feed pause trade", "pause feeds", id="feed-pause"),
        pytest.param("feed resume trade", "resume feeds", id="feed-resume"),
        pytest.param("feed poll", "poll feeds", id="feed-poll"),
        pytest.param("schedule 08:30", "change the digest schedule", id="schedule"),
        pytest.param("schedule off", "change the digest schedule", id="schedule-off"),
        pytest.param("digest post", "post the digest", id="digest-post"),
        pytest.param(
            "subscribe <#C0TRADE0001|trade> ipef", "subscribe a channel", id="channel-sub"
        ),
        pytest.param("subscriptions all", "list everyone's subscriptions", id="subscriptions-all"),
    ],
)
def test_members_are_refused_admin_commands(runtime: Runtime, text: str, action: str) -> None:
    before = (runtime.config, runtime.store.subscriptions.list())
    assert run(runtime, text) == f"Only admins can {action}. Admins: {ADMIN}."
    assert (runtime.config, runtime.store.subscriptions.list()) == before


def test_without_admins_the_refusal_says_how_to_name_them(
    tmp_path: Path, feeds: FeedServer, backend: Backend
) -> None:
    url = {"a": feeds.url("/a.xml")}
    config = make_config(tmp_path / "data", url, admins=(), env=backend.env())
    with Runtime.open(config) as rt:
        reply = run(rt, "feed pause a", user=ADMIN)
    assert reply == (
        "Only admins can pause feeds. No admins are configured: add Slack user ids under "
        "admins: in feeds.yaml."
    )


def test_a_long_listing_is_split_into_messages_slack_accepts(runtime: Runtime) -> None:
    owners = [f"U0BULK{n:05d}" for n in range(4)]
    for owner in owners:
        for n in range(50):
            with runtime.store.transaction() as tx:
                create_subscription(
                    tx,
                    owner=owner,
                    created_by=owner,
                    topic_or_query=(
                        f'"export controls" OR semiconductor{n} OR "rare earth supply {n}"'
                    ),
                    topics=runtime.topics(),
                    now=NOW,
                )
    reply = handle_command(runtime, CommandRequest(ADMIN, CHANNEL, "subscriptions all"))

    assert len(reply.messages) > 1
    for message in reply.messages:
        assert validate_message(message) == []
    text = plain(reply)
    assert text.startswith("All subscriptions:")
    ids = {s.id for s in runtime.store.subscriptions.list()}
    assert len(ids) == 200
    assert all(text.count(f"• {sub_id}: ") == 1 for sub_id in ids)
