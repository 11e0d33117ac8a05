"""`briefbot console`: scripted lines through the real handlers, a real Runtime, printed output."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console

from bot.app.cli.main import main
from bot.app.console import PROMPT, run_console, strip_prefix
from bot.app.runtime import Runtime
from bot.config.schema import parse_config_text
from tests.support.chatserver import ChatServer
from tests.support.feedgen import Entry, make_rss
from tests.support.feedserver import FeedServer
from tests.support.network import FakeResolver, loopback_internet
from tests.support.secretscan import LLM_KEY

ADMIN = "U0ADMIN0001"


@pytest.fixture
def runtime(tmp_path: Path, feed_server: FeedServer) -> Iterator[Runtime]:
    feed_server.add(
        "/trade.xml",
        make_rss(
            [
                Entry(
                    "IPEF ministers sign supply chain agreement",
                    "https://example.org/ipef",
                    guid="ipef",
                    summary="Partners of the Indo-Pacific Economic Framework signed it.",
                )
            ]
        ),
    )
    text = (
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        "feeds:\n"
        f"  - id: trade\n    url: {feed_server.url('/trade.xml')}\n    allow_private: true\n"
        "topics:\n  - id: ipef\n    query: ipef\n    description: IPEF talks\n"
        f"admins: [{ADMIN}]\n"
    )
    # example.org is the feed server, as a public host would be (`feed add` fetches it).
    network = loopback_internet(FakeResolver({"example.org": ["127.0.0.1"]}))
    with Runtime.open(parse_config_text(text, "test-feeds.yaml", env={}), network=network) as rt:
        yield rt


class Script:
    """An input function that plays `lines`, then raises `end` (EOFError: Ctrl-D)."""

    def __init__(self, lines: Sequence[str], end: type[BaseException] = EOFError) -> None:
        self.lines = list(lines)
        self.end = end
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise self.end
        return self.lines.pop(0)


def drive(
    runtime: Runtime, lines: Sequence[str], *, is_admin: bool = True
) -> tuple[str, int, Script]:
    """(what was printed, how many commands were answered, the script) of one session."""
    script = Script(lines)
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, highlight=False)
    answered = run_console(runtime, input_fn=script, output=console, is_admin=is_admin)
    return out.getvalue(), answered, script


def test_a_session_answers_each_line_until_exit(runtime: Runtime) -> None:
    output, answered, script = drive(
        runtime,
        ["/brief help", "", "   ", "topics", "/BRIEF feeds", "digest post", "exit", "never read"],
    )

    assert answered == 4
    assert script.prompts == [PROMPT] * 7
    assert script.lines == ["never read"]
    assert output.startswith(
        "briefbot console: you are U0CONSOLE (an admin) in C0CONSOLE. "
        "Type /brief help; exit or Ctrl-D leaves.\n"
    )
    assert "/brief feed poll [id...]  poll now, then send alerts (admins)" in output
    assert (
        "1 topic (subscribe with /brief subscribe ID):\n• ipef: IPEF talks\nquery: ipef" in output
    )
    assert "1 feed, 1 enabled:\n• trade · every 30m · enabled" in output
    assert "digest post needs Slack: set SLACK_BOT_TOKEN." in output


@pytest.mark.parametrize("end", [EOFError, KeyboardInterrupt], ids=["ctrl-d", "ctrl-c"])
def test_end_of_input_leaves(runtime: Runtime, end: type[BaseException]) -> None:
    script = Script(["status"], end=end)
    out = io.StringIO()
    answered = run_console(runtime, input_fn=script, output=Console(file=out, width=200))
    assert answered == 1
    assert "1 feed: 0 ok · 1 not polled yet" in out.getvalue()


def test_feed_poll_then_a_question_and_a_search_from_the_console(runtime: Runtime) -> None:
    lines = ["feed poll", "what's new on IPEF", "ask what's new on IPEF", '"IPEF"', "quit"]
    output, answered, _ = drive(runtime, lines)
    assert answered == 4
    assert "Polled 1 feed:\n• trade: 1 stored as backlog (a first poll: not alerted)" in output
    # A question in plain words, with or without `ask`: what was understood, counted, cited.
    understood = "1 item [1]: items from "
    assert output.count(understood) == 2
    assert output.count("(no period named: the last 7 days) on the topic ipef.") == 2
    assert output.count("[1] IPEF ministers sign supply chain agreement") == 2
    # A query stays a search.
    assert '1 result for “"IPEF"”' in output


def test_a_console_user_who_is_not_admin_is_refused(runtime: Runtime) -> None:
    output, _, _ = drive(runtime, ["feed add https://example.org/rss"], is_admin=False)
    assert "you are U0CONSOLE (not an admin)" in output
    assert f"Only admins can add feeds. Admins: {ADMIN}." in output
    assert [f.id for f in runtime.config.feeds] == ["trade"]


def test_the_console_admin_changes_the_configuration(
    runtime: Runtime, feed_server: FeedServer
) -> None:
    feed_server.add("/rss", make_rss([], title="Example news"))
    url = f"http://example.org:{feed_server.port}/rss"
    output, _, _ = drive(runtime, [f"feed add {url} eu", "schedule 08:30 UTC"])
    assert f"Added Example news: 0 items. Feed example-org-rss ({url}), polled every 30m." in output
    assert "Schedule saved. This channel's digest: 08:30 UTC, daily;" in output
    assert [f.id for f in runtime.config.feeds] == ["trade", "example-org-rss"]
    assert runtime.config.digest("C0CONSOLE") is not None


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("/brief status", "status"),
        ("  /Brief   latest 5 ", "latest 5"),
        ("/brief", ""),
        ("status", "status"),
        ("/briefing", "/briefing"),
    ],
)
def test_the_brief_prefix_is_optional(line: str, text: str) -> None:
    assert strip_prefix(line) == text


def test_briefbot_console_answers_with_the_language_models_summary(
    tmp_path: Path,
    feed_server: FeedServer,
    chat_server: ChatServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`briefbot console` wires BRIEFBOT_LLM_* as `briefbot run` does: the summary is printed."""
    feed_server.add(
        "/trade.xml",
        make_rss([Entry("IPEF ministers sign supply chain agreement", "https://example.org/i")]),
    )
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        f"feeds:\n  - id: trade\n    url: {feed_server.url('/trade.xml')}\n"
        "    allow_private: true\n"
    )
    for name, value in {
        "BRIEFBOT_LLM_URL": chat_server.url,
        "BRIEFBOT_LLM_MODEL": "local-model",
        "BRIEFBOT_LLM_KEY": LLM_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BRIEFBOT_DATA", raising=False)
    chat_server.reply = "IPEF ministers signed a supply chain agreement [1]."
    monkeypatch.setattr("sys.stdin", io.StringIO("feed poll\nask what's new on IPEF\nexit\n"))
    assert main(["--config", str(feeds), "console"]) == 0
    output = capsys.readouterr().out
    assert "IPEF ministers signed a supply chain agreement [1]." in output
    assert "[1] IPEF ministers sign supply chain agreement" in output
    assert chat_server.requests[0].payload["model"] == "local-model"
