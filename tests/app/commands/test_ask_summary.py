"""`/brief ask` with the optional language model: a summary under the extractive answer.

The Runtime is opened from a configuration whose environment names the
loopback chat server (BRIEFBOT_LLM_URL, _MODEL, _KEY), and wired as
`briefbot run` and `briefbot console` wire it (`use_language_model`). The
store is the one of test_ask.py (tests/app/commands/cases.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.questions import use_language_model
from bot.app.runtime import Runtime
from tests.app.commands.cases import config_for, run
from tests.support.backends import Backend
from tests.support.chatserver import ChatServer
from tests.support.feedserver import FeedServer
from tests.support.secretscan import LLM_KEY

QUESTION = "ask what came in the last 2 days"
SUMMARY = "BIS added 36 entities to the Entity List [1]; IPEF partners signed [2]."


@pytest.fixture
def asked(
    feeds: FeedServer, tmp_path: Path, chat_server: ChatServer, polled: Backend
) -> Iterator[Runtime]:
    env = {
        "BRIEFBOT_LLM_URL": chat_server.url,
        "BRIEFBOT_LLM_MODEL": "gateway-model",
        "BRIEFBOT_LLM_KEY": LLM_KEY,
        "BRIEFBOT_LLM_TIMEOUT": "1",
    }
    with Runtime.open(config_for(feeds, tmp_path / "data", env=polled.env(env))) as rt:
        use_language_model(rt)
        yield rt


def test_the_summary_is_shown_under_the_answer_with_the_citations_kept(
    asked: Runtime, chat_server: ChatServer
) -> None:
    chat_server.reply = SUMMARY
    reply = run(asked, QUESTION)
    lines = reply.split("\n")
    assert lines[0].startswith("3 items [1][2][3]: items from ")
    summary_at = next(n for n, line in enumerate(lines) if line.startswith("Summary"))
    assert lines[summary_at] == (
        "Summary (written by a language model from the items cited below only; check them): "
        + SUMMARY
    )
    # The cited items follow, numbered as the summary cites them.
    rest = lines[summary_at + 1 :]
    assert rest[0] == "[1] Chips 4 alliance meets in Tokyo"
    assert "[4] Rare earth export quotas unchanged" in rest
    [request] = chat_server.requests
    assert request.payload["model"] == "gateway-model"
    assert "[4] Rare earth export quotas unchanged" in request.user_text
    assert LLM_KEY not in reply


@pytest.mark.parametrize("failure", ["slow", "garbage", "500", "stray citation"])
def test_any_failure_leaves_the_extractive_answer_unchanged(
    asked: Runtime, chat_server: ChatServer, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    asked.summarizer, model = None, asked.summarizer
    without = run(asked, QUESTION)
    asked.summarizer = model
    if failure == "slow":
        chat_server.delay = 5.0
    elif failure == "garbage":
        chat_server.body = b"\x00\xffnot json"
    elif failure == "500":
        chat_server.status = 500
    else:
        chat_server.reply = "IPEF partners signed [2] and Japan added 40 [9]."
    caplog.set_level(logging.WARNING)
    assert run(asked, QUESTION) == without
    assert "Summary" not in without
    warnings = [r for r in caplog.records if r.name.startswith("bot.llm")]
    assert len(warnings) == 1
    assert LLM_KEY not in caplog.text


def test_without_the_variables_there_is_no_model(runtime: Runtime) -> None:
    use_language_model(runtime)
    assert runtime.summarizer is None
    assert "Summary" not in run(runtime, QUESTION)
