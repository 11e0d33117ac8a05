"""Many workspaces, each its own: Home tab, buttons, questions, latest, feeds, digests, admins.

`briefbot run` in HTTP mode on a real PostgreSQL against the fake Slack, the
app installed in two workspaces through the real OAuth redirect flow (the
harness of tests/app/test_oauth.py). Every request is signed as Slack signs
it and names its team as Slack does (`team_id` in commands and events,
`team` in interaction payloads); what is asserted is what reached the fake
Slack: the Home tab published and with which token, the replies at the
response_url, the DM answers, the digest posted and with which token.

Workspace Alpha added feed alpha, Beta feed beta (each has one "semiconductor"
item); feed shared is feeds.yaml's, every workspace's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bot.app.commands.dispatch import handle_command
from bot.app.oauth import open_installations
from bot.app.runtime import Runtime
from bot.config.model import DigestConfig
from bot.config.schema import load_config
from bot.models import CommandRequest
from bot.slack.oauth import WorkspaceDeliverers
from bot.store.postgres.store import PgStore
from tests.app.test_oauth import (
    ADMIN_A,
    ADMIN_B,
    ALPHA,
    BETA,
    Commands,
    install,
    oauth_env,
    post_signed,
    prepare,
    responses,
    service,
    write_config,
)
from tests.support.fakeslack import Call, FakeSlack
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet
from tests.support.responseurl import ResponseUrlServer
from tests.support.secretscan import CLIENT_SECRET, SECRET_KEY, WORKSPACE_A_TOKEN, WORKSPACE_B_TOKEN
from tests.support.slackpayloads import block_actions, home_opened

__all__ = ["responses", "service"]  # the fixtures of tests/app/test_oauth.py, used here

OWNER_A = "U0OWNERA3"  # a Slack admin of Alpha, not under admins: in feeds.yaml
MEMBER_A = "U0MEMBRA4"  # a member of Alpha, no admin anywhere
ALPHA_ITEM, BETA_ITEM = "Alpha semiconductor rule", "Beta semiconductor rule"


def in_team(payload: dict[str, Any], team: str) -> dict[str, Any]:
    """A payload of tests/support/slackpayloads.py as workspace `team` sends it."""
    return dict(json.loads(json.dumps(payload).replace("T0FAKETEAM", team)))


def wait_for(found: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if found():
            return
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def home_of(fake_slack: FakeSlack, port: int, team: str, user: str) -> tuple[str, str | None]:
    """Open `user`'s Home tab in `team`: its text, and the token it was published with."""
    before = len(fake_slack.calls("views.publish"))
    body = json.dumps(in_team(home_opened(user), team)).encode()
    assert post_signed(port, body, "application/json") == 200

    def published() -> list[Call]:
        calls = fake_slack.calls("views.publish")[before:]
        return [call for call in calls if call.params.get("user_id") == user]

    wait_for(lambda: bool(published()), f"{user}'s Home tab")
    call = published()[-1]
    return json.dumps(call.json_param("view")), call.token


def press(port: int, team: str, user: str, action_id: str, value: str, reply_url: str) -> None:
    payload = in_team(block_actions(action_id, value, user_id=user, response_url=reply_url), team)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert post_signed(port, body, "application/x-www-form-urlencoded") == 200


def dm_question(port: int, team: str, user: str, text: str) -> None:
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": f"{time.time():.6f}",
        "channel": f"D{user}",
        "channel_type": "im",
        "team": team,
    }
    body = {
        "type": "event_callback",
        "team_id": team,
        "api_app_id": "A0FAKEAPP",
        "event_id": f"Ev0{team}{user}",
        "event_time": int(time.time()),
        "event": event,
    }
    assert post_signed(port, json.dumps(body).encode(), "application/json") == 200


def test_each_workspace_sees_and_changes_only_its_own(
    tmp_path: Path,
    database_url: str,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    responses: ResponseUrlServer,
    service: Callable[[dict[str, str], Path], int],
) -> None:
    fake_slack.client_secret = CLIENT_SECRET
    fake_slack.add_workspace("code-alpha", ALPHA, WORKSPACE_A_TOKEN, team_name="Alpha Inc")
    fake_slack.add_workspace("code-beta", BETA, WORKSPACE_B_TOKEN, team_name="Beta Ltd")
    fake_slack.add_user(OWNER_A, admin=True)
    fake_slack.add_user(MEMBER_A)
    feed_server.add("/shared.rss", make_rss([Entry("Weekly trade digest", "https://e.org/s/1")]))
    feed_server.add("/alpha.rss", make_rss([Entry(ALPHA_ITEM, "https://e.org/a/1", guid="a1")]))
    feed_server.add("/beta.rss", make_rss([Entry(BETA_ITEM, "https://e.org/b/1", guid="b1")]))
    config_path = write_config(tmp_path, feed_server.url("/shared.rss"))
    env = oauth_env(fake_slack, database_url)
    prepare(config_path, env, feed_server)
    port = service(env, config_path)
    install(port, "code-alpha")
    install(port, "code-beta")
    brief = Commands(port, responses)
    assert "Subscribed" in brief(ALPHA, ADMIN_A, "subscribe semiconductor")
    assert "Subscribed" in brief(BETA, ADMIN_B, "subscribe semiconductor")

    # The Home tab: each workspace's subscriptions, items and feeds, published with its token.
    home_a, token_a = home_of(fake_slack, port, ALPHA, ADMIN_A)
    home_b, token_b = home_of(fake_slack, port, BETA, ADMIN_B)
    assert (token_a, token_b) == (WORKSPACE_A_TOKEN, WORKSPACE_B_TOKEN)
    assert ALPHA_ITEM in home_a and BETA_ITEM not in home_a, home_a
    assert BETA_ITEM in home_b and ALPHA_ITEM not in home_b, home_b
    assert "2 feeds" in home_a and "2 feeds" in home_b  # its own and feeds.yaml's

    # A button naming another workspace's subscription changes nothing there.
    store = PgStore.open(env["BRIEFBOT_DATABASE_URL"])  # closed by the Runtime at the end
    [sub_b] = [s.id for s in store.subscriptions.list() if s.team_id == BETA]
    published = len(fake_slack.calls("views.publish"))
    press(port, ALPHA, ADMIN_A, "subscription.remove", sub_b, responses.url("crafted"))
    gone = f"Subscription {sub_b} no longer exists"

    def told() -> list[Call]:
        calls = fake_slack.calls("views.publish")[published:]
        return [call for call in calls if gone in json.dumps(call.params)]

    wait_for(lambda: bool(told()), "the Home tab saying the subscription is not there")
    [republished] = told()
    assert republished.params["user_id"] == ADMIN_A and republished.token == WORKSPACE_A_TOKEN
    assert "semiconductor" in brief(BETA, ADMIN_B, "subscriptions")

    # latest, ask, a DM, feeds and status: the asking workspace's feeds only.
    for team, ours, theirs in ((ALPHA, ALPHA_ITEM, BETA_ITEM), (BETA, BETA_ITEM, ALPHA_ITEM)):
        admin = ADMIN_A if team == ALPHA else ADMIN_B
        latest = brief(team, admin, "latest")
        assert ours in latest and theirs not in latest, latest
        answer = brief(team, admin, "ask semiconductor this week")
        assert ours in answer and theirs not in answer, answer
    feeds_a, status_a = brief(ALPHA, ADMIN_A, "feeds"), brief(ALPHA, ADMIN_A, "status")
    assert "2 feeds" in feeds_a and "beta" not in feeds_a and "beta" not in status_a
    dm_question(port, ALPHA, ADMIN_A, "semiconductor this week")
    wait_for(lambda: bool(fake_slack.calls("chat.postMessage")), "the DM's answer")
    [answer_call] = fake_slack.calls("chat.postMessage")
    assert answer_call.token == WORKSPACE_A_TOKEN
    assert ALPHA_ITEM in json.dumps(answer_call.params)
    assert BETA_ITEM not in json.dumps(answer_call.params)

    # One feed URL, two workspaces: Beta follows Alpha's feed; it is not fetched again.
    [alpha_id] = [i for i, o in store.overrides.feeds().items() if o.team_id == ALPHA]
    assert f"*{alpha_id}*" in feeds_a
    alpha_url = feed_server.url("/alpha.rss").replace("127.0.0.1", "alpha.example")
    fetched = len(feed_server.requests())
    followed = brief(BETA, ADMIN_B, f"feed add {alpha_url}")
    assert f"Added feed {alpha_id}" in followed and "fetched once" in followed, followed
    assert ALPHA_ITEM in brief(BETA, ADMIN_B, "latest")
    assert alpha_id in brief(BETA, ADMIN_B, "feeds")
    assert f"Removed feed {alpha_id}" in brief(ALPHA, ADMIN_A, f"feed remove {alpha_id}")
    assert alpha_id not in brief(ALPHA, ADMIN_A, "feeds")
    assert ALPHA_ITEM not in brief(ALPHA, ADMIN_A, "latest")
    left_to_b = brief(BETA, ADMIN_B, "feeds")
    assert alpha_id in left_to_b and ADMIN_A not in left_to_b  # still Beta's
    assert ALPHA_ITEM in brief(BETA, ADMIN_B, "latest")
    assert len(feed_server.requests()) == fetched

    # Admins per workspace: Alpha's Slack admin sets Alpha's schedule, a member may not,
    # and Beta's admin cannot clear it.
    refused = brief(ALPHA, MEMBER_A, "schedule 07:00 UTC")
    assert "Only admins can change the digest schedule" in refused, refused
    assert "Schedule saved" in brief(ALPHA, OWNER_A, "schedule 07:00 UTC")
    info = [c for c in fake_slack.calls("users.info") if c.params.get("user") == OWNER_A]
    assert info and {c.token for c in info} == {WORKSPACE_A_TOKEN}
    channel_a = f"C0{ALPHA}"
    assert "No schedule was set" in brief(BETA, ADMIN_B, "schedule off", channel=channel_a)
    [beta_id] = [i for i in store.overrides.feeds() if i.startswith("beta")]
    assert f"there is no feed '{beta_id}'" in brief(ALPHA, ADMIN_A, f"feed pause {beta_id}")
    assert f"there is no feed '{beta_id}'" in brief(ALPHA, ADMIN_A, f"feed remove {beta_id}")
    assert beta_id in brief(BETA, ADMIN_B, "feeds")

    # The scheduled digest (what the digest job runs): Alpha's feeds, Alpha's token.
    config = load_config(config_path, env=env)
    with Runtime(config, store) as runtime:
        digest = runtime.config.digest(channel_a)
        assert digest is not None and digest.team_id == ALPHA
        posters = WorkspaceDeliverers(config.slack, open_installations(store, SECRET_KEY))
        outcome = runtime.send_digest(digest, posters)
        # A digest of feeds.yaml covers feeds.yaml's feeds only, none a workspace added.
        of_yaml = DigestConfig(channel="C0YAMLDIGST", at=clock_time(8), timezone="UTC")
        since = runtime.clock() - timedelta(days=1)
        _view, messages = runtime.compose(of_yaml, after_seq=0, backlog_since=since)
    shown = json.dumps([[m.text, *m.blocks] for m in messages])
    assert "Weekly trade digest" in shown and BETA_ITEM not in shown, shown
    assert outcome.status == "sent", outcome
    [posted] = [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == channel_a]
    assert posted.token == WORKSPACE_A_TOKEN
    assert "Weekly trade digest" in json.dumps(posted.params)
    assert BETA_ITEM not in json.dumps(posted.params)


def test_a_subscription_never_alerts_an_item_of_a_feed_only_another_workspace_follows(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Matching stamps each alert with its subscription's workspace, then keeps it only
    when that workspace follows the item's feed (TinyDB: scoping needs no PostgreSQL)."""
    feed_server.add("/shared.rss", make_rss([Entry("Weekly trade digest", "https://e.org/s/1")]))
    feed_server.add("/alpha.rss", make_rss([Entry("Alpha old", "https://e.org/a/0", guid="a0")]))
    config = load_config(write_config(tmp_path, feed_server.url("/shared.rss")), env={})
    network = loopback_internet(FakeResolver({"alpha.example": ["127.0.0.1"]}))
    with Runtime.open(config, network=network) as runtime:

        def run(team: str, user: str, text: str) -> str:
            request = CommandRequest(user, f"C0{team}", text, team_id=team)
            return "\n".join(m.text for m in handle_command(runtime, request).messages)

        url = feed_server.url("/alpha.rss").replace("127.0.0.1", "alpha.example")
        assert "Added" in run(ALPHA, ADMIN_A, f"feed add {url}")
        assert "Subscribed" in run(ALPHA, ADMIN_A, "subscribe semiconductor")
        assert "Subscribed" in run(BETA, ADMIN_B, "subscribe semiconductor")
        runtime.poll(force=True)  # the first polls: backlog, never alerted
        news = Entry(ALPHA_ITEM, "https://e.org/a/1", guid="a1")
        feed_server.add("/alpha.rss", make_rss([news]))
        runtime.poll(force=True)
        queued = runtime.store.alerts.queued()
    assert [(a.owner, a.team_id) for a in queued] == [(ADMIN_A, ALPHA)], queued
