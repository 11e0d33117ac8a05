"""Tokens and the signing secret never reach output, logs or error texts; the detector can tell.

The first cases run `briefbot` in-process (`bot.app.cli.main`) with the registered
test secrets (tests/support/secretscan.py) in the environment, logging at DEBUG
(slack_sdk then logs request parameters), and grep stdout, stderr and every
log record for them. The suite-wide detector scans the same and more; these
cases keep the flows that matter most explicit.

The detector cases run pytest in a subprocess on a generated test file, with
tests/support/secretscan.py as its plugin: one test per place a secret can leak, and
one clean test. Each leaking test must fail (or error, when the leak is only
found after teardown) naming the place; the clean one must pass; and the
whole report must not show a secret, although pytest prints the captured
output of the failed tests.

Not obvious:
- `run` is pointed at the fake Slack, which knows another token, so it
  answers auth.test with `invalid_auth`: the start-up error path.
- The internal error path is a corrupt `state.json`: the store refuses to
  open and the CLI prints why.
- The inner run writes under a tmp_path_factory folder, not this test's
  tmp_path, so the leaks it provokes on purpose are not this run's leaks.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app.cli.main import main
from tests.support import paths
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import (
    SECRETS,
    SIGNING_SECRET,
    WRONG_APP_TOKEN,
    WRONG_BOT_TOKEN,
    find_leaks,
    redact,
)

ROOT = paths.ROOT


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
    monkeypatch.setenv("SLACK_BOT_TOKEN", WRONG_BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", WRONG_APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    caplog.set_level(logging.DEBUG)
    return config


def corrupt_state(config: Path) -> None:
    main(["--config", str(config), "poll"])
    (config.parent / "data" / "state.json").write_text('{"not": "a store"')


def poll_once(config: Path) -> None:
    """Items, a feed state with an error: something for the reading commands to show."""
    assert main(["--config", str(config), "poll"]) == 0


def feed_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("help\nfeeds\nstatus\n"))


CASES: dict[str, tuple[list[str], Callable[[Path, pytest.MonkeyPatch], None] | None, int]] = {
    "check-config": (["check-config"], None, 0),
    "check-config-json": (["check-config", "--json"], None, 0),
    "poll-with-a-failing-feed": (["-v", "poll"], None, 0),
    "run-refused-invalid-token": (["run", "--port", "0"], None, -1),
    "console": (["console"], lambda c, m: feed_console(m), 0),
    "digest-dry-run": (
        ["digest", "--channel", "C0DIGEST01", "--dry-run", "--json"],
        lambda c, m: poll_once(c),
        0,
    ),
    "status-after-a-poll": (["status"], lambda c, m: poll_once(c), 0),
    "status-json-after-a-poll": (["status", "--json"], lambda c, m: poll_once(c), 0),
    "search-after-a-poll": (["search", '"story 1"'], lambda c, m: poll_once(c), 0),
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
        assert status == code, redact(err)
    else:
        assert status != 0, "this path must fail"
        # The CLI prints why; `run` logs it (in-process, pytest's handler gets the log).
        said = err + "".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
        assert said.strip(), "and say why"
    logs = caplog.text + "".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text}" for r in caplog.records
    )
    leaks = [
        leak.describe()
        for where, text in (("stdout", out), ("stderr", err), ("the log", logs))
        for leak in find_leaks(where, text)
    ]
    assert leaks == []


def test_data_files_are_private(setup: Path) -> None:
    assert main(["--config", str(setup), "poll"]) == 0
    data = setup.parent / "data"
    files = [p for p in data.rglob("*") if p.is_file()]

    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {p.name for p in files} >= {"state.json"}
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {
        p.name: "0o600" for p in files
    }


def test_the_detector_is_on_for_this_suite(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.hasplugin("tests.support.secretscan")


# -- the detector itself ------------------------------------------------------------------

INNER_CONFTEST = """
import pytest

from tests.support.fakeslack import FakeSlack
from tests.support.feedserver import FeedServer

pytest_plugins = ["tests.support.secretscan"]


@pytest.fixture
def fake_slack():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def feed_server():
    server = FeedServer().start()
    yield server
    server.stop()
"""

INNER_HEADER = """
import json
import logging
import os
import subprocess
import sys
import urllib.request
from urllib.parse import urlencode

import pytest

from tests.support.secretscan import (
    APP_TOKEN, BOT_TOKEN, FEED_API_KEY, FEED_PASSWORD, FEED_TOKEN, FEED_USER, SIGNING_SECRET,
    WRONG_BOT_TOKEN, record_output,
)


def post_to_slack(fake, text):
    request = urllib.request.Request(
        fake.url + "chat.postMessage",
        data=urlencode({"channel": "C0GENERAL1", "text": text}).encode(),
        headers={"Authorization": "Bearer " + fake.token},
    )
    return json.load(urllib.request.urlopen(request, timeout=5))


@pytest.fixture
def noisy_setup():
    print("setting up with", SIGNING_SECRET)
"""

# id: (test body, expected outcome, what the report must say)
DETECTOR_CASES: dict[str, tuple[str, str, str]] = {
    "clean": (
        """
        def test_clean(tmp_path, fake_slack, feed_server, capsys):
            logging.getLogger("bot.app.demo").debug("SLACK_BOT_TOKEN is set (xoxb-…)")
            print("the bot needs its xoxb- token; team prefix", BOT_TOKEN[:16])
            print(capsys.readouterr().out.upper())
            (tmp_path / "state.json").write_text('{"seq": 1}')
            assert post_to_slack(fake_slack, "hello")["ok"]
            feed_server.add("/f.xml", b"<rss/>")
            urllib.request.urlopen(feed_server.url("/f.xml"), timeout=5).read()
        """,
        "passed",
        "",
    ),
    "bot-debug-log": (
        """
        def test_bot_debug_log():
            logging.getLogger("bot.slack.client").debug("calling Slack with %s", BOT_TOKEN)
        """,
        "failed",
        "BOT_TOKEN in a log record of bot.slack.client (DEBUG), line 1: "
        "'DEBUG bot.slack.client: calling Slack with «BOT_TOKEN»'",
    ),
    "stdout-tail": (
        """
        def test_stdout_tail():
            print("app token ends in", APP_TOKEN[-16:])
        """,
        "failed",
        "the last 16 characters of APP_TOKEN in pytest's stdout call capture",
    ),
    "stderr": (
        """
        def test_stderr():
            sys.stderr.write("\\n\\nsigning with " + SIGNING_SECRET + "\\n")
        """,
        "failed",
        "SIGNING_SECRET in pytest's stderr call capture, line 3",
    ),
    "read-by-capsys": (
        """
        def test_read_by_capsys(capsys):
            print("refused:", WRONG_BOT_TOKEN)
            assert "refused" in capsys.readouterr().out
        """,
        "failed",
        "WRONG_BOT_TOKEN in capsys/capfd readouterr() stdout",
    ),
    "subprocess": (
        """
        def test_subprocess():
            child = subprocess.run(
                [sys.executable, "-c", "import os; print('token', os.environ['T'])"],
                env={**os.environ, "T": BOT_TOKEN}, capture_output=True, text=True,
            )
            record_output("the child's stdout", child.stdout)
        """,
        "failed",
        "BOT_TOKEN in the child's stdout",
    ),
    "setup-phase": (
        """
        def test_setup_phase(noisy_setup):
            pass
        """,
        "error",
        "secret leak during setup of test_leaks.py::test_setup_phase",
    ),
    "fake-slack-message": (
        """
        def test_fake_slack_message(fake_slack):
            assert post_to_slack(fake_slack, "your token: " + APP_TOKEN)["ok"]
        """,
        "error",
        "APP_TOKEN in what the bot sent to the fake Slack (chat.postMessage)",
    ),
    "feed-request": (
        """
        def test_feed_request(feed_server):
            feed_server.add("/f.xml", b"<rss/>")
            request = urllib.request.Request(
                feed_server.url("/f.xml"), headers={"Authorization": "Bearer " + BOT_TOKEN}
            )
            urllib.request.urlopen(request, timeout=5).read()
        """,
        "error",
        "BOT_TOKEN in a request to the feed server, line 5: 'authorization: Bearer «BOT_TOKEN»'",
    ),
    "tmp-file": (
        """
        def test_tmp_file(tmp_path):
            (tmp_path / "data").mkdir()
            (tmp_path / "data" / "state.json").write_text(json.dumps({"token": BOT_TOKEN}))
        """,
        "error",
        "BOT_TOKEN in file data/state.json under tmp_path",
    ),
    "library-info-log": (
        # httpx logs every request at INFO, credentials and query included; the
        # test's log level (WARNING) would never show it, the detector must.
        """
        def test_library_info_log(feed_server):
            import httpx
            feed_server.add("/f.xml", b"<rss/>")
            url = feed_server.url("/f.xml?api_key=" + FEED_API_KEY)
            url = url.replace("http://", f"http://{FEED_USER}:{FEED_PASSWORD}@")
            assert httpx.get(url).status_code == 200
        """,
        "failed",
        "FEED_API_KEY in a log record of httpx (INFO)",
    ),
    "library-debug-log": (
        # httpcore logs response headers at DEBUG: a Location carrying a token.
        """
        def test_library_debug_log(feed_server):
            import httpx
            feed_server.add("/r.xml", redirect_to="/f.xml?token=" + FEED_TOKEN)
            assert httpx.get(feed_server.url("/r.xml")).status_code == 302
        """,
        "failed",
        "FEED_TOKEN in a log record of httpcore.http11 (DEBUG)",
    ),
    "levels-unchanged": (
        # Seeing every record must not change which records the test sees.
        """
        def test_levels_unchanged(caplog):
            logging.getLogger("somelib").debug("quiet")
            logging.getLogger("bot.somewhere").info("quiet")
            logging.getLogger("somelib").warning("loud")
            assert [r.getMessage() for r in caplog.records] == ["loud"]
            caplog.set_level(logging.DEBUG, logger="somelib")
            logging.getLogger("somelib.child").debug("shown now")
            logging.getLogger("other").info("still quiet")
            assert [r.getMessage() for r in caplog.records] == ["loud", "shown now"]
        """,
        "passed",
        "",
    ),
    "unregistered-token-shape": (
        """
        def test_unregistered_token_shape():
            print("xoxb-" + "4444444444-5555555555-n0tR3g1st3r3dAnyWh3r3")
        """,
        "failed",
        "a Slack-token-shaped string in pytest's stdout call capture",
    ),
}


@dataclass(frozen=True)
class InnerResult:
    outcome: str  # passed / failed / error
    report: str  # the failure and error texts junit recorded


@dataclass(frozen=True)
class InnerRun:
    results: dict[str, InnerResult]  # by test function name
    output: str  # everything the inner pytest printed


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory: pytest.TempPathFactory) -> InnerRun:
    """pytest in a subprocess on one generated test per DETECTOR_CASES entry."""
    project = tmp_path_factory.mktemp("detector-project")
    (project / "pytest.ini").write_text("[pytest]\n")  # keeps the rootdir here
    (project / "conftest.py").write_text(INNER_CONFTEST)
    bodies = [textwrap.dedent(body) for body, _, _ in DETECTOR_CASES.values()]
    (project / "test_leaks.py").write_text(INNER_HEADER + "\n".join(bodies))
    junit = project / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BRIEFBOT_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-ra"),
            f"--basetemp={tmp_path_factory.mktemp('detector-basetemp')}",
            f"--junitxml={junit}",
            "test_leaks.py",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results: dict[str, InnerResult] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        problems = [e for e in case if e.tag in ("failure", "error")]
        outcome = "error" if any(e.tag == "error" for e in problems) else "failed"
        results[case.attrib["name"]] = InnerResult(
            outcome if problems else "passed", "\n".join(e.text or "" for e in problems)
        )
    return InnerRun(results, done.stdout + done.stderr)


def case_name(case_id: str) -> str:
    return "test_" + case_id.replace("-", "_")


@pytest.mark.parametrize(
    ("case_id", "outcome", "said"),
    [(case_id, outcome, said) for case_id, (_, outcome, said) in DETECTOR_CASES.items()],
    ids=list(DETECTOR_CASES),
)
def test_the_detector_fails_each_leak_and_passes_clean_output(
    detector_run: InnerRun, case_id: str, outcome: str, said: str
) -> None:
    result = detector_run.results[case_name(case_id)]

    assert result.outcome == outcome, redact(result.report)
    assert said in result.report
    if outcome != "passed":
        assert "Test secrets are registered in tests/support/secretscan.py" in result.report


def test_the_detector_report_never_shows_a_secret(detector_run: InnerRun) -> None:
    assert set(detector_run.results) == {case_name(case_id) for case_id in DETECTOR_CASES}
    # The clean test and the three whose leak is found after teardown passed
    # their call; the setup-phase leak never ran its call.
    assert "8 failed, 5 passed, 4 errors in " in detector_run.output
    # pytest printed the failed tests' captured output, redacted.
    assert "app token ends in «end of APP_TOKEN»" in detector_run.output
    assert "setting up with «SIGNING_SECRET»" in detector_run.output
    assert [leak.describe() for leak in find_leaks("inner pytest", detector_run.output)] == []
    assert all(secret not in detector_run.output for secret in SECRETS.values())
