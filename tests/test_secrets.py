"""Tokens and the signing secret never reach output, logs or error texts; data files are private.

Each case runs `briefbot` in-process (`bot.cli.main`) with distinctive fake
secrets in the environment, logging at DEBUG (slack_sdk then logs request
parameters), and greps stdout, stderr and every log record for them.

Not obvious:
- `run` is pointed at the fake Slack, which knows another token, so it
  answers auth.test with `invalid_auth`: the start-up error path.
- The internal error path is a corrupt `state.json`: the store refuses to
  open and the CLI prints why.
"""

from __future__ import annotations

import io
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakeslack import FakeSlack
from tests.feedgen import make_rss, numbered_entries
from tests.feedserver import FeedServer

BOT_TOKEN = "xoxb-9999999999-8888888888-s3cr3tB0tT0k3nN3v3rL0gg3d"
APP_TOKEN = "xapp-1-A0SECRET-7777777777-s3cr3tAppT0k3nN3v3rL0gg3d"
SIGNING = "s3cr3t-s1gn1ng-v4lu3-n3v3r-l0gg3d-0123456789"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING)


@pytest.fixture
def setup(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Path:
    """feeds.yaml with a good and a failing feed and a digest; the secrets in the environment."""
    feed_server.add("/good.xml", make_rss(numbered_entries(1, 3)))
    feed_server.add("/bad.xml", b"<html>nope</html>", status=500)
    config = tmp_path / "feeds.yaml"
    config.write_text(
        f"settings:\n  data_dir: {tmp_path / 'data'}\n"
        "  connect_timeout: 2\n  read_timeout: 2\n  total_timeout: 5\n"
        "feeds:\n"
        f"  - id: good\n    url: {feed_server.url('/good.xml')}\n    allow_private: true\n"
        f"  - id: bad\n    url: {feed_server.url('/bad.xml')}\n    allow_private: true\n"
        "digests:\n  - channel: C0DIGEST01\n    at: '08:30'\n    timezone: UTC\n"
    )
    for name in ("BRIEFBOT_CONFIG", "BRIEFBOT_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    caplog.set_level(logging.DEBUG)
    return config


def corrupt_state(config: Path) -> None:
    main(["--config", str(config), "poll"])
    (config.parent / "data" / "state.json").write_text('{"not": "a store"')


def feed_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("help\nfeeds\nstatus\n"))


CASES: dict[str, tuple[list[str], Callable[[Path, pytest.MonkeyPatch], None] | None, int]] = {
    "check-config": (["check-config"], None, 0),
    "check-config-json": (["check-config", "--json"], None, 0),
    "poll-with-a-failing-feed": (["-v", "poll"], None, 0),
    "run-refused-invalid-token": (["run", "--port", "0"], None, -1),
    "console": (["console"], lambda c, m: feed_console(m), 0),
    "digest-dry-run": (["digest", "--channel", "C0DIGEST01", "--dry-run", "--json"], None, 0),
    "corrupt-store": (["poll"], lambda c, m: corrupt_state(c), -1),
}


@pytest.mark.parametrize(("argv", "prepare", "code"), list(CASES.values()), ids=list(CASES))
def test_no_secret_in_any_output(
    setup: Path,
    argv: list[str],
    prepare: Callable[[Path, pytest.MonkeyPatch], None] | None,
    code: int,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if prepare is not None:
        prepare(setup, monkeypatch)
    status = main(["--config", str(setup), *argv])
    out, err = capsys.readouterr()

    if code >= 0:
        assert status == code, err
    else:
        assert status != 0, "this path must fail"
        # The CLI prints why; `run` logs it (in-process, pytest's handler gets the log).
        said = err + "".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
        assert said.strip(), "and say why"
    logs = caplog.text + "".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records
    )
    for secret in SECRETS:
        for where, text in (("stdout", out), ("stderr", err), ("log", logs)):
            assert secret not in text, f"a secret reached {where}"
            assert secret[-16:] not in text, f"part of a secret reached {where}"


def test_data_files_are_private(setup: Path) -> None:
    assert main(["--config", str(setup), "poll"]) == 0
    data = setup.parent / "data"
    files = [p for p in data.rglob("*") if p.is_file()]

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {p.name for p in files} >= {"state.json"}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {
        p.name: "0o600" for p in files
    }
