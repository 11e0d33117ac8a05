"""Delivery to Slack: the real slack_sdk client, built by make_web_client, against the fake.

Each test looks at what reached "Slack" (the fake's message log and call
record) and at what the caller gets back, under the failures Slack really
produces: rate limits, 5xx, outages, lost answers, refusals.
"""

from __future__ import annotations

import logging
import time
from email.utils import formatdate
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.config.model import SlackSecrets
from bot.deliver.ports import DeliveryError, DeliveryResult, Poster
from bot.headers import parse_retry_after
from bot.models import SlackMessage
from bot.slack.client import SlackClientConfigError, make_web_client
from bot.slack.deliver import Deliverer
from bot.slack.errors import describe_slack_error
from tests.support.fakeslack import FakeSlack
from tests.support.secretscan import BOT_TOKEN, WRONG_BOT_TOKEN

CHANNEL = "C0BRIEFING"


def make_deliverer(
    fake: FakeSlack,
    *,
    token: str | None = None,
    interval: float = 0.0,
    backoff: float = 0.05,
    max_retry_after: float = 60.0,
) -> Deliverer:
    secrets = SlackSecrets(bot_token=token or fake.token, api_url=fake.url)
    client = make_web_client(secrets, timeout=5, backoff=backoff, max_retry_after=max_retry_after)
    return Deliverer(client, interval=interval, backoff=0.05)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def message(text: str, *, in_thread: bool = False) -> SlackMessage:
    return SlackMessage(text=text, blocks=(section(f"*{text}*"),), in_thread=in_thread)


def posted(fake: FakeSlack, channel: str = CHANNEL) -> list[tuple[str, str | None]]:
    """(text, thread_ts) of each message the fake accepted in `channel`."""
    return [(m.text, m.thread_ts) for m in fake.messages(channel)]


# -- what reaches Slack -----------------------------------------------------------


def test_post_reaches_slack_as_built(fake_slack: FakeSlack) -> None:
    blocks = (
        {"type": "header", "text": {"type": "plain_text", "text": "Morning briefing"}},
        section("BIS adds 36 entities to the Entity List &lt;!channel&gt;"),
    )
    result = make_deliverer(fake_slack).post(CHANNEL, [SlackMessage("Morning briefing", blocks)])

    (sent,) = fake_slack.messages(CHANNEL)
    assert result == DeliveryResult(ok=True, ts=sent.ts, posted=1, timestamps=(sent.ts,))
    assert sent.text == "Morning briefing"
    assert sent.blocks == [dict(b) for b in blocks]
    assert sent.params["unfurl_links"] is False
    assert sent.params["unfurl_media"] is False
    # Slack's mention parsing stays off: no link_names, no parse=full.
    assert "link_names" not in sent.params
    assert "parse" not in sent.params
    assert fake_slack.calls("chat.postMessage")[0].token == fake_slack.token


def test_thread_replies_carry_the_first_ts(fake_slack: FakeSlack) -> None:
    batch = [
        message("digest, part 1"),
        message("digest, part 2", in_thread=True),
        message("digest, part 3", in_thread=True),
        message("separate note"),
    ]
    result = make_deliverer(fake_slack).post(CHANNEL, batch)

    first = fake_slack.messages(CHANNEL)[0].ts
    assert posted(fake_slack) == [
        ("digest, part 1", None),
        ("digest, part 2", first),
        ("digest, part 3", first),
        ("separate note", None),
    ]
    assert result.ok and result.ts == first and result.posted == 4
    assert result.timestamps == tuple(m.ts for m in fake_slack.messages(CHANNEL))


def test_empty_batch_posts_nothing(fake_slack: FakeSlack) -> None:
    result = make_deliverer(fake_slack).post(CHANNEL, [])
    assert (result.ok, result.posted, result.ts) == (True, 0, None)
    assert fake_slack.calls() == []


# -- failures that pass -------------------------------------------------------------


def test_rate_limit_waits_for_retry_after_then_posts_once(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", retry_after=1)
    started = time.monotonic()
    result = make_deliverer(fake_slack).post(CHANNEL, [message("alert")])
    elapsed = time.monotonic() - started

    assert result.ok
    assert posted(fake_slack) == [("alert", None)]
    first, second = fake_slack.calls("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 1.0
    assert elapsed >= 1.0


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"status": 500, "n": 2}, id="500-twice"),
        pytest.param({"status": 502, "n": 1}, id="502"),
        pytest.param({"status": 503, "n": 2}, id="503-twice"),
        pytest.param({"status": 504, "n": 3}, id="504-three-times"),
        pytest.param({"drop": "before", "n": 1}, id="connection-dropped-before-posting"),
        pytest.param({"drop": "after", "n": 1}, id="posted-but-answer-lost"),
        pytest.param({"drop": "after", "n": 2}, id="answer-lost-twice"),
    ],
)
def test_passing_failures_post_exactly_once(fake_slack: FakeSlack, fault: dict[str, Any]) -> None:
    fake_slack.fail_next("chat.postMessage", **fault)
    result = make_deliverer(fake_slack).post(
        CHANNEL, [message("entity list alert")], metadata={"key": "alert:U1:42"}
    )

    assert posted(fake_slack) == [("entity list alert", None)]
    assert result.ok
    assert result.ts == fake_slack.messages(CHANNEL)[0].ts


def test_lost_answer_of_a_thread_reply_is_found_in_the_thread(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", drop="after", skip=1)
    result = make_deliverer(fake_slack).post(
        CHANNEL,
        [message("part 1"), message("part 2", in_thread=True)],
        metadata={"key": "digest:C0BRIEFING:2024-05-01"},
    )

    first = fake_slack.messages(CHANNEL)[0].ts
    assert posted(fake_slack) == [("part 1", None), ("part 2", first)]
    assert result.ok and result.posted == 2


@pytest.mark.parametrize("mode", ["refuse", "503"])
def test_short_outage_within_the_retry_budget(fake_slack: FakeSlack, mode: str) -> None:
    # Backoff 0.1 s doubling: retries at >= 0.1, 0.3, 0.7 s; Slack is back at 0.15 s.
    fake_slack.down(mode, for_seconds=0.15)
    result = make_deliverer(fake_slack, backoff=0.1).post(CHANNEL, [message("alert")])

    assert result.ok
    assert posted(fake_slack) == [("alert", None)]


# -- failures that do not pass ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["refuse", "503"])
def test_outage_beyond_the_budget_is_retryable(fake_slack: FakeSlack, mode: str) -> None:
    fake_slack.down(mode)
    result = make_deliverer(fake_slack).post(CHANNEL, [message("alert")])

    assert (result.ok, result.retryable, result.posted) == (False, True, 0)
    assert result.error is not None
    assert result.error.startswith(f"cannot post to {CHANNEL}: ")
    assert result.error.endswith("try again later")
    fake_slack.up()
    assert fake_slack.messages() == []
    # 503s were answered and retried 3 times; refused connections never arrived.
    assert len(fake_slack.calls("chat.postMessage")) == (4 if mode == "503" else 0)


def test_retry_after_longer_than_allowed_is_not_slept_through(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", error="ratelimited", retry_after=30)
    started = time.monotonic()
    result = make_deliverer(fake_slack, max_retry_after=5).post(CHANNEL, [message("alert")])

    assert time.monotonic() - started < 5
    assert (result.ok, result.retryable) == (False, True)
    assert result.error == (
        f"cannot post to {CHANNEL}: Slack is rate limiting the bot (Retry-After: 30 s); "
        "try again later"
    )
    assert fake_slack.messages() == []


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(
            {"member": False},
            f"cannot post to {CHANNEL}: not_in_channel — invite the bot with /invite @briefbot",
            id="not_in_channel",
        ),
        pytest.param(
            {"strict": True},
            f"cannot post to {CHANNEL}: channel_not_found — check the channel id; "
            "for a private channel, invite the bot with /invite @briefbot",
            id="channel_not_found",
        ),
        pytest.param(
            {"archived": True},
            f"cannot post to {CHANNEL}: is_archived — the channel is archived; "
            "unarchive it or choose another channel",
            id="is_archived",
        ),
        pytest.param(
            {"token": WRONG_BOT_TOKEN},
            f"cannot post to {CHANNEL}: invalid_auth — Slack rejected the bot token; "
            "check SLACK_BOT_TOKEN (reinstall the app if it was removed)",
            id="invalid_auth",
        ),
    ],
)
def test_refusals_are_final_and_say_what_to_do(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, setup: dict[str, Any], expected: str
) -> None:
    token = setup.pop("token", None)
    fake_slack.strict = setup.pop("strict", False)
    if setup:
        fake_slack.add_channel(CHANNEL, **setup)
    with caplog.at_level(logging.WARNING, logger="bot.slack.deliver"):
        result = make_deliverer(fake_slack, token=token).post(CHANNEL, [message("alert")])

    assert result == DeliveryResult(ok=False, retryable=False, error=expected)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert expected in caplog.messages  # the operator sees it in the log too


def test_slack_refuses_over_limit_blocks_and_the_client_does_not_retry(
    fake_slack: FakeSlack,
) -> None:
    # What Slack does with a message the renderer should have split, had
    # bot.render.slacklimits not stopped it: a final refusal.
    client = make_web_client(SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url))
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=CHANNEL, text="digest", blocks=[section("item")] * 51)

    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert describe_slack_error("cannot post to", CHANNEL, excinfo.value) == (
        f"cannot post to {CHANNEL}: invalid_blocks — Slack refused the blocks: "
        "no more than 50 items allowed [json-pointer:/blocks]",
        False,
    )


@pytest.mark.parametrize(
    ("oversized", "problem"),
    [
        pytest.param(
            SlackMessage("digest", tuple(section("item") for _ in range(51)), in_thread=True),
            "51 blocks; the limit is 50",
            id="51-blocks",
        ),
        pytest.param(
            SlackMessage("digest", (section("x" * 3001),), in_thread=True),
            "3,001",
            id="section-3001",
        ),
        pytest.param(
            SlackMessage("<!channel> new rule", in_thread=True),
            'unescaped "<!channel>',
            id="broadcast-mention",
        ),
    ],
)
def test_unsendable_message_stops_the_whole_batch_before_sending(
    fake_slack: FakeSlack, oversized: SlackMessage, problem: str
) -> None:
    result = make_deliverer(fake_slack).post(CHANNEL, [message("part 1"), oversized])

    assert (result.ok, result.retryable, result.posted) == (False, False, 0)
    assert result.error is not None
    assert result.error.startswith(f"cannot post to {CHANNEL}: message 2 of 2 breaks Slack's")
    assert problem in result.error
    assert fake_slack.calls() == []


def test_partly_posted_batch_resumes_in_the_same_thread(fake_slack: FakeSlack) -> None:
    batch = [
        message("part 1"),
        message("part 2", in_thread=True),
        message("part 3", in_thread=True),
    ]
    fake_slack.fail_next("chat.postMessage", error="internal_error", skip=1)
    deliverer = make_deliverer(fake_slack)
    first_try = deliverer.post(CHANNEL, batch, metadata={"key": "digest:1"})

    first = fake_slack.messages(CHANNEL)[0].ts
    assert (first_try.ok, first_try.retryable, first_try.posted, first_try.ts) == (
        False,
        True,
        1,
        first,
    )

    # As after a restart: only what was stored (posted, ts) is known.
    stored = DeliveryResult(ok=False, posted=first_try.posted, ts=first_try.ts)
    second_try = make_deliverer(fake_slack).post(
        CHANNEL, batch, metadata={"key": "digest:1"}, resume=stored
    )
    assert second_try.ok and second_try.posted == 3 and second_try.ts == first
    assert posted(fake_slack) == [("part 1", None), ("part 2", first), ("part 3", first)]
    parts = [
        m.metadata["event_payload"]["part"] for m in fake_slack.messages(CHANNEL) if m.metadata
    ]
    assert parts == [0, 1, 2]


# -- pacing ----------------------------------------------------------------------------


def test_posts_to_one_channel_are_spaced_by_the_interval(fake_slack: FakeSlack) -> None:
    interval = 0.3
    deliverer = make_deliverer(fake_slack, interval=interval)
    started = time.monotonic()
    result = deliverer.post(CHANNEL, [message("one"), message("two"), message("three")])
    elapsed = time.monotonic() - started

    assert result.posted == 3
    assert elapsed >= 2 * interval
    times = [c.time for c in fake_slack.calls("chat.postMessage")]
    assert times[-1] - times[0] >= 2 * interval - 0.05


def test_posts_to_different_channels_do_not_wait_for_each_other(fake_slack: FakeSlack) -> None:
    interval = 0.5
    deliverer = make_deliverer(fake_slack, interval=interval)
    started = time.monotonic()
    for channel in ("C0ONE", "C0TWO", "C0THREE"):
        assert deliverer.post(channel, [message(f"hello {channel}")]).ok
    assert time.monotonic() - started < interval


# -- exactly once ---------------------------------------------------------------------


def test_already_delivered_finds_the_post_by_its_key(fake_slack: FakeSlack) -> None:
    before = time.time() - 1
    key = "digest:C0BRIEFING:2024-05-01"
    make_deliverer(fake_slack).post(
        CHANNEL, [message("part 1"), message("part 2", in_thread=True)], metadata={"key": key}
    )
    make_deliverer(fake_slack).post(CHANNEL, [message("other")], metadata={"key": "other"})

    # As after a restart: a new client and deliverer, nothing remembered.
    fresh = make_deliverer(fake_slack)
    assert fresh.already_delivered(CHANNEL, key, before) is True
    assert fresh.find_delivery(CHANNEL, key, before) == fake_slack.messages(CHANNEL)[0].ts
    assert fresh.already_delivered(CHANNEL, "digest:C0BRIEFING:2024-05-02", before) is False
    assert fresh.already_delivered("C0ELSEWHERE", key, before) is False
    assert fresh.already_delivered(CHANNEL, key, time.time() + 60) is False
    history = fake_slack.calls("conversations.history")[0]
    assert history.params["include_all_metadata"] in ("1", True)


@pytest.mark.parametrize(
    ("cut_after", "expected"),
    [
        pytest.param(None, 4, id="whole-batch"),
        pytest.param(1, 1, id="summary-only"),
        pytest.param(3, 3, id="three-of-four"),
    ],
)
def test_find_posted_counts_the_leading_messages_of_a_cut_batch(
    fake_slack: FakeSlack, cut_after: int | None, expected: int
) -> None:
    before = time.time() - 1
    key = "digest:C0BRIEFING:2024-05-03"
    batch = [message("summary"), *(message(f"part {n}", in_thread=True) for n in (2, 3, 4))]
    if cut_after is not None:
        fake_slack.fail_next("chat.postMessage", error="channel_not_found", skip=cut_after)
    first = make_deliverer(fake_slack).post(CHANNEL, batch, metadata={"key": key})
    make_deliverer(fake_slack).post(CHANNEL, [message("other")], metadata={"key": "other"})

    found = make_deliverer(fake_slack).find_posted(CHANNEL, key, before)

    assert found is not None
    assert (found.posted, found.ts) == (expected, fake_slack.messages(CHANNEL)[0].ts)
    assert list(found.timestamps) == list(first.timestamps)
    assert make_deliverer(fake_slack).find_posted(CHANNEL, "digest:never", before) is None
    # Resuming from what was found completes the batch without repeating a message.
    resumed = make_deliverer(fake_slack).post(CHANNEL, batch, metadata={"key": key}, resume=found)
    assert resumed.ok
    texts = [m.text for m in fake_slack.messages(CHANNEL) if m.text != "other"]
    assert texts == ["summary", "part 2", "part 3", "part 4"]


def test_already_delivered_says_when_it_cannot_tell(fake_slack: FakeSlack) -> None:
    fake_slack.add_channel(CHANNEL, member=False)
    with pytest.raises(DeliveryError) as excinfo:
        make_deliverer(fake_slack).already_delivered(CHANNEL, "k", 0)
    assert str(excinfo.value) == (
        f"cannot read the history of {CHANNEL}: not_in_channel — "
        "invite the bot with /invite @briefbot"
    )
    assert excinfo.value.retryable is False


def test_metadata_needs_a_key(fake_slack: FakeSlack) -> None:
    with pytest.raises(ValueError, match="non-empty str 'key'"):
        make_deliverer(fake_slack).post(CHANNEL, [message("x")], metadata={"topic": "ipef"})


# -- direct and ephemeral messages ----------------------------------------------------


def test_direct_messages_open_the_conversation_once(fake_slack: FakeSlack) -> None:
    deliverer = make_deliverer(fake_slack)
    assert deliverer.post_dm("U0ANALYST", [message("alert 1")]).ok
    assert deliverer.post_dm("U0ANALYST", [message("alert 2")]).ok

    assert posted(fake_slack, "DU0ANALYST") == [("alert 1", None), ("alert 2", None)]
    assert [c.params["users"] for c in fake_slack.calls("conversations.open")] == ["U0ANALYST"]


def test_direct_message_to_unknown_user(fake_slack: FakeSlack) -> None:
    fake_slack.strict = True
    result = make_deliverer(fake_slack).post_dm("U0GHOST", [message("alert")])
    assert result == DeliveryResult(
        ok=False,
        retryable=False,
        error="cannot open a direct message with U0GHOST: user_not_found — no such Slack user",
    )


def test_ephemeral_reply(fake_slack: FakeSlack) -> None:
    result = make_deliverer(fake_slack).post_ephemeral(CHANNEL, "U0ASKER", message("3 results"))
    (shown,) = fake_slack.ephemerals(CHANNEL)
    assert result.ok and result.ts == shown.ts
    assert (shown.user, shown.text, shown.blocks) == (
        "U0ASKER",
        "3 results",
        [section("*3 results*")],
    )


# -- time zones -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param({"tz": "Asia/Tokyo"}, "Asia/Tokyo", id="known-zone"),
        pytest.param({"tz": "Mars/Olympus_Mons"}, None, id="zone-python-does-not-know"),
        pytest.param({"fail": "missing_scope"}, None, id="users-info-refused"),
        pytest.param({"down": True}, None, id="slack-unreachable"),
    ],
)
def test_user_timezone_is_slacks_or_none(
    fake_slack: FakeSlack, setup: dict[str, Any], expected: str | None
) -> None:
    fake_slack.add_user("U0ANALYST", tz=setup.get("tz"))
    if "fail" in setup:
        fake_slack.fail_next("users.info", error=setup["fail"])
    if setup.get("down"):
        fake_slack.down()
    deliverer: Poster = make_deliverer(fake_slack)  # the port the commands use

    assert deliverer.user_timezone("U0ANALYST") == expected
    fake_slack.up()


# -- secrets ------------------------------------------------------------------------------


def test_token_never_reaches_logs_or_errors(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = WRONG_BOT_TOKEN
    caplog.set_level(logging.DEBUG)  # slack_sdk's own debug log included
    errors: list[str | None] = []
    deliverer = make_deliverer(fake_slack)
    fake_slack.fail_next("chat.postMessage", 2, status=500)
    errors.append(deliverer.post(CHANNEL, [message("a")]).error)
    fake_slack.fail_next("chat.postMessage", drop="after")
    errors.append(deliverer.post(CHANNEL, [message("b")], metadata={"key": "b"}).error)
    errors.append(make_deliverer(fake_slack, token=wrong).post(CHANNEL, [message("c")]).error)
    fake_slack.down()
    errors.append(deliverer.post(CHANNEL, [message("d")]).error)
    fake_slack.up()

    assert errors[:2] == [None, None]
    assert errors[2] is not None and errors[3] is not None
    texts = [*caplog.messages, *(e for e in errors if e)]
    assert any("chat.postMessage" in t for t in caplog.messages)  # the debug log was on
    for secret in (fake_slack.token, wrong, "xoxb-"):
        assert not [t for t in texts if secret in t]


# -- the client ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secrets", "problem"),
    [
        pytest.param(SlackSecrets(bot_token=None), "SLACK_BOT_TOKEN is not set", id="no-token"),
        pytest.param(SlackSecrets(bot_token="  "), "SLACK_BOT_TOKEN is not set", id="blank"),
        pytest.param(
            SlackSecrets(bot_token=BOT_TOKEN, api_url="file:///etc/passwd"),
            "SLACK_API_URL must be an http\\(s\\) URL",
            id="file-url",
        ),
    ],
)
def test_client_needs_a_token_and_an_http_url(secrets: SlackSecrets, problem: str) -> None:
    with pytest.raises(SlackClientConfigError, match=problem):
        make_web_client(secrets)


def test_client_uses_slack_api_url_with_or_without_slash(fake_slack: FakeSlack) -> None:
    secrets = SlackSecrets(bot_token=fake_slack.token, api_url=fake_slack.url.rstrip("/"))
    client = make_web_client(secrets)
    assert client.base_url == fake_slack.url
    assert client.auth_test()["user_id"] == fake_slack.bot_user_id
    assert [c.method for c in fake_slack.calls()] == ["auth.test"]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("1", 1.0, id="delta-seconds"),
        pytest.param("120", 120.0, id="two-minutes"),
        pytest.param(formatdate(1_000_030, usegmt=True), 30.0, id="http-date"),
        pytest.param(formatdate(999_000, usegmt=True), 0.0, id="date-in-the-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=1_000_000) == seconds
