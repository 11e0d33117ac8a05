"""`/brief topics`, `feeds`, `status` and `feed add|remove|pause|resume|poll`."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.models import CommandRequest
from bot.slack.deliver import Deliverer
from tests.app.commands.cases import ADMIN, CHANNEL, MEMBER, NEW, run, slack_text
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, blank_line_first, make_rss
from tests.support.feedserver import FeedServer
from tests.support.secretscan import FEED_API_KEY, FEED_PASSWORD, FEED_USER, find_leaks


def test_topics_lists_id_priority_description_and_query(runtime: Runtime) -> None:
    assert run(runtime, "topics") == (
        "2 topics (subscribe with /brief subscribe ID):\n"
        "• entity-list (priority 10): BIS Entity List changes\n"
        'query: "entity list"\n'
        "• ipef: IPEF talks\n"
        "query: ipef OR indo-pacific"
    )


def test_feeds_pause_resume_remove_and_add(web: Runtime, feeds: FeedServer, tmp_path: Path) -> None:
    runtime = web
    assert run(runtime, "feeds") == (
        "2 feeds, 2 enabled:\n"
        "• trade · tags: trade · every 30m · enabled\n"
        "• quiet · tags: trade · every 30m · enabled"
    )
    assert run(runtime, "feed pause quiet", user=ADMIN) == (
        "Paused feed quiet: not polled until /brief feed resume quiet."
    )
    paused = runtime.config.feed("quiet")
    assert paused is not None and not paused.enabled
    assert "• quiet · tags: trade · every 30m · paused" in run(runtime, "feeds")
    requests_before = len(feeds.requests("/quiet.xml"))
    runtime.poll(force=True)
    assert len(feeds.requests("/quiet.xml")) == requests_before

    assert run(runtime, "feed resume quiet", user=ADMIN).startswith("Resumed feed quiet")
    resumed = runtime.config.feed("quiet")
    assert resumed is not None and resumed.enabled

    assert run(runtime, "feed remove quiet", user=ADMIN) == (
        "Removed feed quiet. It is in feeds.yaml: /brief feed resume quiet brings it back."
    )
    assert runtime.config.feed("quiet") is None
    assert run(runtime, "feeds").endswith(
        "Removed from Slack: quiet (/brief feed resume ID brings one back)."
    )

    feeds.add("/news/feed.xml", make_rss(NEW, title="Chip news"))
    url = f"http://example.org:{feeds.port}/news/feed.xml"
    reply = run(runtime, f"feed add <{url}> eu #chips", user=ADMIN)
    assert reply.startswith(
        f"Added Chip news: 3 items. Feed example-org-news-feed ({url}), polled every 30m."
    )
    added = runtime.config.feed("example-org-news-feed")
    assert added is not None
    assert (added.tags, added.allow_private) == (("eu", "chips"), False)
    listed = "• example-org-news-feed · tags: eu, chips · every 30m · enabled · added from Slack"
    assert f"{listed} by {ADMIN}" in run(runtime, "feeds")

    # A restart reads the changes back from the store.
    base = runtime.base_config
    runtime.close()
    with Runtime.open(base) as again:
        assert [(f.id, f.enabled) for f in again.config.feeds] == [
            ("trade", True),
            ("example-org-news-feed", True),
        ]


def test_unknown_feed_ids_are_named(runtime: Runtime) -> None:
    reply = run(runtime, "feed pause nope", user=ADMIN)
    assert reply.startswith("There is no feed 'nope': /brief feeds lists them")
    assert run(runtime, "feed poll nope", user=ADMIN).startswith("there is no feed 'nope'")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        pytest.param("http://127.0.0.1:9/feed", "127.0.0.1 is a loopback address", id="loopback"),
        pytest.param("http://2130706433/feed", "is the address 127.0.0.1", id="decimal"),
        pytest.param("file:///etc/passwd", "must start with http:// or https://", id="file"),
    ],
)
def test_feed_add_refuses_private_and_non_http_urls(
    runtime: Runtime, url: str, problem: str
) -> None:
    reply = run(runtime, f"feed add {url}", user=ADMIN)
    assert reply.startswith(f"cannot add {url}: ")
    assert problem in reply
    assert len(runtime.config.feeds) == 2


def test_feed_add_does_not_repeat_the_urls_credentials(runtime: Runtime) -> None:
    url = f"http://{FEED_USER}:{FEED_PASSWORD}@127.0.0.1:9/feed?api_key={FEED_API_KEY}"
    reply = handle_command(runtime, CommandRequest(ADMIN, CHANNEL, f"feed add {url}"))
    [text] = [block["text"]["text"] for m in reply.messages for block in m.blocks]
    assert text.startswith("cannot add http://***@127.0.0.1:9/feed?api_key=***: ")
    assert "127.0.0.1 is a loopback address" in text
    assert find_leaks("the reply", text) == []


def test_a_feed_added_from_slack_may_not_reach_loopback(
    runtime: Runtime, feeds: FeedServer
) -> None:
    host = socket.gethostname()
    try:
        address = socket.gethostbyname(host)
    except OSError:
        pytest.skip(f"the host name {host} does not resolve here")
    if not address.startswith("127."):
        pytest.skip(f"the host name {host} resolves to {address}, not loopback")
    feeds.add("/inside.xml", make_rss(NEW))
    url = feeds.url("/inside.xml").replace("127.0.0.1", host)

    reply = run(runtime, f"feed add {url}", user=ADMIN)

    # The system resolver's answer, judged by the guard before anything is saved.
    assert reply.startswith(
        f"Cannot add {url}: refused: {host} resolves to {address}, a loopback address"
    )
    assert reply.endswith("Nothing was saved.")
    assert feeds.requests("/inside.xml") == []
    assert all(f.url != url for f in runtime.config.feeds)
    assert runtime.store.overrides.feeds() == {}


def test_feed_poll_reports_each_feed_and_sends_alerts(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    run(runtime, "subscribe ipef")
    feeds.add(
        "/trade.xml",
        make_rss([Entry("IPEF digital trade", "https://example.org/d", guid="d"), *NEW]),
    )
    reply = run(runtime, "feed poll", user=ADMIN, poster=deliverer)
    assert reply == (
        "Polled 2 feeds:\n"
        "• trade: 1 new, 3 already seen\n"
        "• quiet: 0 new, 0 already seen\n"
        "Alerts sent: 1 item in 1 message."
    )
    [dm] = fake_slack.messages("D" + MEMBER)
    assert "IPEF digital trade" in slack_text(dm)


def test_feed_poll_without_slack_keeps_alerts_queued(runtime: Runtime, feeds: FeedServer) -> None:
    run(runtime, "subscribe ipef")
    feeds.add(
        "/trade.xml",
        make_rss([Entry("IPEF digital trade", "https://example.org/d", guid="d"), *NEW]),
    )
    reply = run(runtime, "feed poll trade", user=ADMIN)
    assert reply == (
        "Polled 1 feed:\n"
        "• trade: 1 new, 3 already seen\n"
        "Alerts stay queued: no Slack connection here (briefbot run sends them)."
    )
    assert run(runtime, "feed pause trade", user=ADMIN).startswith("Paused")
    assert run(runtime, "feed poll trade", user=ADMIN).startswith(
        "feed trade is paused: /brief feed resume trade first"
    )


def test_status_shows_an_empty_feed_read_with_a_warning_as_ok(
    runtime: Runtime, feeds: FeedServer
) -> None:
    feeds.add("/quiet.xml", blank_line_first(make_rss([])))
    for _ in range(3):
        runtime.poll(force=True)
    reply = run(runtime, "status")
    assert reply.startswith("2 feeds: 2 ok\n")
    quiet = next(line for line in reply.splitlines() if "quiet quiet" in line)
    assert quiet.startswith(":white_check_mark: quiet quiet · updated ")
    assert quiet.endswith(
        " · warning: malformed XML at line 2: XML or text declaration not at start of entity"
    )
    assert "failing" not in reply


def test_status_shows_feed_health_and_delivery_problems(
    runtime: Runtime, feeds: FeedServer, fake_slack: FakeSlack, deliverer: Deliverer
) -> None:
    feeds.add("/quiet.xml", b"gone", status=500)
    runtime.poll(force=True)
    fake_slack.add_channel("C0LOCKED001", member=False)
    run(runtime, "subscribe <#C0LOCKED001|locked> ipef", user=ADMIN)
    feeds.add("/trade.xml", make_rss([Entry("IPEF news", "https://example.org/n", guid="n"), *NEW]))
    runtime.poll(force=True)
    runtime.dispatch_alerts(deliverer)

    reply = run(runtime, "status")

    assert reply.startswith("2 feeds: 1 ok · 1 failing")
    assert "trade trade · updated" in reply
    assert "quiet quiet · failing since" in reply
    assert "(2 failures): HTTP 500 Internal Server Error" in reply
    assert re.search(
        r"Delivery problems:\n• C0LOCKED001: cannot post to C0LOCKED001: not_in_channel — "
        r"invite the bot with /invite @briefbot \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$",
        reply,
    )
