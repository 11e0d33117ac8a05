"""The fake Slack Web API answers the real slack_sdk client the way Slack does.

The delivery tests trust this fake, so it is checked here against Slack's
documented behaviour: token checks, message limits and their error codes,
threads and history, and the programmable faults. The client has no retry
handlers here, so every answer is seen as the fake gave it.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.error import URLError

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.support.fakeslack import (
    DEFAULT_TOKEN,
    MAX_BLOCKS,
    MAX_BLOCKS_TEXT,
    MAX_CONTEXT_ELEMENTS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TEXT,
    FakeSlack,
)
from tests.support.secretscan import WRONG_BOT_TOKEN


def raw_client(fake: FakeSlack, token: str | None = DEFAULT_TOKEN) -> WebClient:
    return WebClient(token=token, base_url=fake.url, retry_handlers=[], timeout=5)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def context(n: int) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * n}


def slack_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# -- authentication -------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param(DEFAULT_TOKEN, None, id="right-token"),
        pytest.param(WRONG_BOT_TOKEN, "invalid_auth", id="wrong-token"),
        pytest.param(None, "not_authed", id="no-token"),
    ],
)
def test_token_is_checked(fake_slack: FakeSlack, token: str | None, expected: str | None) -> None:
    client = raw_client(fake_slack, token)
    if expected is None:
        assert client.auth_test()["user_id"] == fake_slack.bot_user_id
    else:
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="C1", text="hello")
        assert slack_error(excinfo) == expected
        assert excinfo.value.response.status_code == 200  # Slack: API errors are HTTP 200
        assert fake_slack.messages() == []
    assert fake_slack.calls()[-1].token == token


# -- message limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({"blocks": [section("x")] * MAX_BLOCKS}, None, id="50-blocks"),
        pytest.param({"blocks": [section("x")] * (MAX_BLOCKS + 1)}, "invalid_blocks", id="51"),
        pytest.param({"blocks": [section("x" * MAX_SECTION_TEXT)]}, None, id="section-3000"),
        pytest.param(
            {"blocks": [section("x" * (MAX_SECTION_TEXT + 1))]}, "invalid_blocks", id="sect-3001"
        ),
        pytest.param({"blocks": [header("h" * MAX_HEADER_TEXT)]}, None, id="header-150"),
        pytest.param(
            {"blocks": [header("h" * (MAX_HEADER_TEXT + 1))]}, "invalid_blocks", id="header-151"
        ),
        pytest.param({"blocks": [context(MAX_CONTEXT_ELEMENTS)]}, None, id="context-10"),
        pytest.param(
            {"blocks": [context(MAX_CONTEXT_ELEMENTS + 1)]}, "invalid_blocks", id="context-11"
        ),
        pytest.param(
            {"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]},
            "invalid_blocks",
            id="fields-11",
        ),
        pytest.param({"blocks": [section("")]}, "invalid_blocks", id="empty-section-text"),
        pytest.param({"blocks": [{"type": "banner"}]}, "invalid_blocks", id="unknown-type"),
        pytest.param(
            # Each section is within 3,000; together they are past ~13,000.
            {"blocks": [section("y" * 2700)] * 5},
            "msg_blocks_too_long",
            id="blocks-13500-total",
        ),
        pytest.param({"blocks": [section("y" * 2600)] * 5}, None, id="blocks-13000-total"),
        pytest.param({"text": "t" * MAX_TEXT}, None, id="text-40000"),
        pytest.param({"text": "t" * (MAX_TEXT + 1)}, "msg_too_long", id="text-40001"),
        pytest.param(
            {"text": ""},
            "no_text",
            id="empty",
            marks=pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing"),
        ),
    ],
)
def test_message_limits(
    fake_slack: FakeSlack, fields: dict[str, Any], expected: str | None
) -> None:
    client = raw_client(fake_slack)
    payload = {"text": "fallback", **fields}
    if expected is None:
        response = client.chat_postMessage(channel="C1", **payload)
        assert [m.ts for m in fake_slack.messages("C1")] == [response["ts"]]
        return
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", **payload)
    assert slack_error(excinfo) == expected
    assert fake_slack.messages() == []


def test_invalid_blocks_answer_points_at_the_block(fake_slack: FakeSlack) -> None:
    blocks = [section("ok"), section("x" * (MAX_SECTION_TEXT + 1))]
    with pytest.raises(SlackApiError) as excinfo:
        raw_client(fake_slack).chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert excinfo.value.response["errors"] == [
        "must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
    ]


def test_blocks_text_limit_is_near_13000(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    at_limit = [section("z" * 2600)] * (MAX_BLOCKS_TEXT // 2600)
    client.chat_postMessage(channel="C1", text="t", blocks=at_limit)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="t", blocks=[*at_limit, section("z")])
    assert slack_error(excinfo) == "msg_blocks_too_long"


def test_form_encoded_post_is_read_like_json(fake_slack: FakeSlack) -> None:
    blocks = [section("*Entity List* additions")]
    client = raw_client(fake_slack)
    client.api_call(
        "chat.postMessage",
        data={"channel": "C1", "text": "hi", "blocks": json.dumps(blocks), "unfurl_links": False},
    )
    (message,) = fake_slack.messages("C1")
    assert message.blocks == blocks
    call = fake_slack.calls("chat.postMessage")[0]
    assert call.content_type.startswith("application/x-www-form-urlencoded")
    assert call.params["unfurl_links"] == "0"  # slack_sdk's form encoding of False
    assert call.json_param("blocks") == blocks

    too_many = json.dumps([section("x")] * (MAX_BLOCKS + 1))
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.postMessage", data={"channel": "C1", "blocks": too_many})
    assert slack_error(excinfo) == "invalid_blocks"


def test_bad_metadata_is_refused(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        raw_client(fake_slack).chat_postMessage(
            channel="C1", text="t", metadata={"event_payload": {"key": "k"}}
        )
    assert slack_error(excinfo) == "invalid_metadata_format"


# -- channels, threads, history ---------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param((False, False), "not_in_channel", id="not-invited"),
        pytest.param((True, True), "is_archived", id="archived"),
    ],
)
def test_channel_state_refusals(
    fake_slack: FakeSlack, setup: tuple[bool, bool], expected: str
) -> None:
    member, archived = setup
    fake_slack.add_channel("C0PRIVATE", member=member, archived=archived)
    with pytest.raises(SlackApiError) as excinfo:
        raw_client(fake_slack).chat_postMessage(channel="C0PRIVATE", text="hello")
    assert slack_error(excinfo) == expected


def test_strict_fake_knows_only_added_channels() -> None:
    with FakeSlack(strict=True) as fake:
        fake.add_channel("C0KNOWN")
        client = raw_client(fake)
        client.chat_postMessage(channel="C0KNOWN", text="hello")
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postMessage(channel="C0OTHER", text="hello")
        assert slack_error(excinfo) == "channel_not_found"


def test_thread_replies_and_history(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    first = client.chat_postMessage(channel="C1", text="digest")["ts"]
    reply = client.chat_postMessage(channel="C1", text="part 2", thread_ts=first)["ts"]
    later = client.chat_postMessage(channel="C1", text="alert")["ts"]
    assert float(first) < float(reply) < float(later)

    history = client.conversations_history(channel="C1")["messages"]
    # Newest first, thread replies left out, the parent counting its reply.
    assert [m["text"] for m in history] == ["alert", "digest"]
    assert history[1]["reply_count"] == 1

    thread = client.conversations_replies(channel="C1", ts=first)["messages"]
    assert [(m["text"], m["thread_ts"]) for m in thread] == [
        ("digest", first),
        ("part 2", first),
    ]
    assert [m.thread_ts for m in fake_slack.messages("C1")] == [None, first, None]


def test_reply_to_unknown_thread_is_refused(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        raw_client(fake_slack).chat_postMessage(channel="C1", text="t", thread_ts="123.000001")
    assert slack_error(excinfo) == "thread_not_found"


def test_history_returns_metadata_only_when_asked(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    metadata = {"event_type": "briefbot_delivery", "event_payload": {"key": "digest:C1"}}
    client.chat_postMessage(channel="C1", text="digest", metadata=metadata)
    plain = client.conversations_history(channel="C1")["messages"][0]
    full = client.conversations_history(channel="C1", include_all_metadata=True)["messages"][0]
    assert "metadata" not in plain
    assert full["metadata"] == metadata


def test_history_window_and_pages(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    stamps = [client.chat_postMessage(channel="C1", text=f"m{i}")["ts"] for i in range(5)]

    after = client.conversations_history(channel="C1", oldest=stamps[2])["messages"]
    assert [m["text"] for m in after] == ["m4", "m3"]
    including = client.conversations_history(channel="C1", oldest=stamps[2], inclusive=True)
    assert [m["text"] for m in including["messages"]] == ["m4", "m3", "m2"]

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = client.conversations_history(channel="C1", limit=2, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]


def test_users_info_and_direct_messages(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0ANALYST", name="kenji", tz="Asia/Tokyo")
    client = raw_client(fake_slack)
    user = client.users_info(user="U0ANALYST")["user"]
    assert (user["tz"], user["tz_offset"]) == ("Asia/Tokyo", 9 * 3600)

    dm = client.conversations_open(users="U0ANALYST")["channel"]["id"]
    assert dm == "DU0ANALYST"
    client.chat_postMessage(channel=dm, text="your alert")
    client.chat_postMessage(channel="U0ANALYST", text="by user id")  # lands in the same DM
    assert [m.text for m in fake_slack.messages(dm)] == ["your alert", "by user id"]


def test_ephemeral_messages_are_kept_apart(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    client.chat_postEphemeral(channel="C1", user="U0ASKER", text="only you can see this")
    assert fake_slack.messages() == []
    (shown,) = fake_slack.ephemerals("C1")
    assert (shown.user, shown.text) == ("U0ASKER", "only you can see this")


def test_unknown_method(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        raw_client(fake_slack).api_call("chat.postMesage")
    assert slack_error(excinfo) == "unknown_method"


def test_every_call_is_recorded(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    client.auth_test()
    client.chat_postMessage(channel="C1", text="hello", unfurl_links=False)
    calls = fake_slack.calls()
    assert [c.method for c in calls] == ["auth.test", "chat.postMessage"]
    assert all(c.token == DEFAULT_TOKEN for c in calls)
    assert calls[1].params == {"channel": "C1", "text": "hello", "unfurl_links": False}
    assert calls[0].time <= calls[1].time


# -- faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        pytest.param({"status": 500}, 500, None, id="http-500"),
        pytest.param({"status": 503}, 503, None, id="http-503"),
        pytest.param({"error": "ratelimited"}, 429, "ratelimited", id="ratelimited"),
        pytest.param({"error": "channel_not_found"}, 200, "channel_not_found", id="api-error"),
    ],
)
def test_fail_next_answers(
    fake_slack: FakeSlack, fault: dict[str, Any], status: int, error: str | None
) -> None:
    fake_slack.fail_next("chat.postMessage", **fault)
    client = raw_client(fake_slack)
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="first")
    assert excinfo.value.response.status_code == status
    if error is not None:
        assert slack_error(excinfo) == error
    client.chat_postMessage(channel="C1", text="second")  # the fault was used up
    assert [m.text for m in fake_slack.messages("C1")] == ["second"]


def test_rate_limit_carries_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", retry_after=7)
    with pytest.raises(SlackApiError) as excinfo:
        raw_client(fake_slack).chat_postMessage(channel="C1", text="t")
    headers = {k.lower(): v for k, v in excinfo.value.response.headers.items()}
    assert headers["retry-after"] == "7"


def test_fail_next_skip_and_any_method(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("*", error="internal_error", skip=1)
    client = raw_client(fake_slack)
    client.auth_test()
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C1", text="t")
    assert slack_error(excinfo) == "internal_error"


@pytest.mark.parametrize(
    ("drop", "posted"),
    [
        pytest.param("before", [], id="dropped-before-posting"),
        pytest.param("after", ["lost answer"], id="posted-then-dropped"),
    ],
)
def test_dropped_connection(fake_slack: FakeSlack, drop: str, posted: list[str]) -> None:
    fake_slack.fail_next("chat.postMessage", drop=drop)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        raw_client(fake_slack).chat_postMessage(channel="C1", text="lost answer")
    assert [m.text for m in fake_slack.messages("C1")] == posted
    assert fake_slack.calls("chat.postMessage")[0].status == 0


def test_down_refuses_connections_until_up(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    fake_slack.down()
    with pytest.raises(URLError) as excinfo:
        client.auth_test()
    assert isinstance(excinfo.value.reason, ConnectionRefusedError)
    fake_slack.up()
    assert client.auth_test()["ok"] is True  # same URL, same port


def test_down_503_and_back_by_itself(fake_slack: FakeSlack) -> None:
    client = raw_client(fake_slack)
    fake_slack.down("503", for_seconds=0.3)
    with pytest.raises(SlackApiError) as excinfo:
        client.auth_test()
    assert excinfo.value.response.status_code == 503
    time.sleep(0.5)
    assert client.auth_test()["ok"] is True


def test_fail_next_needs_a_fault(fake_slack: FakeSlack) -> None:
    with pytest.raises(ValueError, match="needs a status"):
        fake_slack.fail_next("chat.postMessage")
    with pytest.raises(ValueError, match="'before' or 'after'"):
        fake_slack.fail_next("chat.postMessage", drop="sometimes")
