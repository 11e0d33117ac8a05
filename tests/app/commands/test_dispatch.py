"""`handle_command`: the sub-command table, mistakes met with usage, errors with a reference."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app.commands.help import COMMANDS
from bot.app.runtime import Runtime
from bot.store.ports import StoreError
from tests.app.commands.cases import ADMIN, CHANNEL, MEMBER, run


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        pytest.param(
            "feed frobnicate", "unknown feed command 'frobnicate'", "/brief feed add", id="feed"
        ),
        pytest.param(
            "feed", "say what to do with feeds", "/brief feed poll [id...]", id="feed-bare"
        ),
        pytest.param(
            "digest later", "unknown digest option 'later'", "/brief digest post", id="digest"
        ),
        pytest.param(
            "subscriptions mine", "unknown option 'mine'", "/brief subscriptions [all]", id="subs"
        ),
        pytest.param(
            "topics please", "topics takes no words after it", "/brief topics", id="extra-words"
        ),
        pytest.param(
            "unsubscribe", "give a subscription id", "/brief unsubscribe <id>", id="no-id"
        ),
        pytest.param(
            "mute s1234 s5678", "give one subscription id, not 2", "/brief mute <id>", id="two-ids"
        ),
        pytest.param("latest 99", "n must be between 1 and 50", "/brief latest", id="latest-n"),
        pytest.param("search", "say what to search for", "/brief search <query>", id="search"),
        pytest.param("subscribe", "say what to subscribe to", "/brief subscribe", id="subscribe"),
    ],
)
def test_a_malformed_sub_command_gets_the_problem_and_its_usage(
    runtime: Runtime, text: str, problem: str, usage: str
) -> None:
    reply = run(runtime, text, user=ADMIN)
    first, *rest = reply.split("\n")
    assert problem in first
    assert rest[-1].startswith("Usage: ")
    assert usage in rest[-1]
    assert "Traceback" not in reply


def test_an_over_long_command_is_refused_politely(runtime: Runtime) -> None:
    reply = run(runtime, "chips " * 1000)
    assert "That command is 6,000 characters long; /brief takes up to 4,000." in reply


class UnreadableRepository:
    """A store repository whose every method fails, as on a disk that stopped answering."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, method: str) -> Callable[..., NoReturn]:
        def fail(*args: object, **kwargs: object) -> NoReturn:
            raise StoreError(f"cannot read {self.name}: Input/output error")

        return fail


READ_REPOSITORIES = (
    "items",
    "feed_states",
    "subscriptions",
    "alerts",
    "alert_deliveries",
    "digests",
    "delivery_problems",
    "overrides",
    "ops_notices",
)


def test_an_internal_error_gives_a_reference_not_a_traceback(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in READ_REPOSITORIES:  # every store read now fails: a fault on our side
        monkeypatch.setattr(runtime.store, name, UnreadableRepository(name))
    with caplog.at_level(logging.ERROR, logger="bot.app.commands.dispatch"):
        reply = run(runtime, "subscriptions")
    assert reply.startswith("Something went wrong on our side (ref ")
    assert reply.endswith("); the error is in the bot's log.")
    ref = reply.split("(ref ")[1][:6]
    assert len(ref) == 6 and ref.isalnum()
    assert "Traceback" not in reply
    [record] = [r for r in caplog.records if ref in r.getMessage()]
    assert record.exc_info is not None
    assert f"/brief subscriptions from {MEMBER} in {CHANNEL} failed (ref {ref})" in (
        record.getMessage()
    )


_FRAGMENTS = [
    *(usage.split()[1] for usage, _ in COMMANDS),
    *[
        "add",
        "remove",
        "pause",
        "resume",
        "poll",
        "post",
        "all",
        "off",
        "daily",
        "hourly",
        "08:00",
        "25:99",
        "tz:Asia/Tokyo",
        "tz:",
        "mon-fri",
        "0",
        "7",
        "99",
        "²",
        "OR",
        "AND",
        "NOT",
        "(",
        ")",
        '"',
        "since:7d",
        "feed:trade",
        "tag:x",
        "*",
        "s0000",
        "#general",
    ],
    "<#C0TRADE0001|trade>",
    "<@U0OTHER0001|olga>",
    "<mailto:someone@example.org|someone@example.org>",  # no http URL: `feed poll` stays local
    "<!here>",
    "&amp;",
    "&lt;",
    "text=",
    "entity-list",
    "trade",
]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    words=st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=7),
    user=st.sampled_from([MEMBER, ADMIN]),
)
def test_no_input_makes_the_bot_fail(runtime: Runtime, words: list[str], user: str) -> None:
    reply = run(runtime, " ".join(words), user=user)
    assert reply.strip()
    assert "Something went wrong" not in reply
    assert "Traceback" not in reply
