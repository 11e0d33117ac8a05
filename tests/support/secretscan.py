"""The test secrets, and a pytest plugin that fails any test during which one shows up in output.

Every token, signing secret and feed credential the suites hand to the bot is
defined here (`SECRETS`), so the detector knows them all. tests/conftest.py
loads this module as a plugin (`pytest_plugins`); after each phase of each
test (setup, call, teardown) it scans, for every registered secret and for
its last 16 characters:

- pytest's captured stdout, stderr and log sections of that phase;
- every log record of every logger (the bot's, Slack's, httpx's, httpcore's,
  any library's) at DEBUG and up, whatever level the code or the test set,
  formatted as a log handler would write it (exception text included);
- what tests read with `capsys` / `capfd` `.readouterr()` (that output never
  reaches pytest's report);
- subprocess output handed to `record_output` (briefbot run in a child);
- after teardown: what the bot sent to the `fake_slack` fixture (every
  call's parameters, i.e. message text and blocks, the auth token excluded),
  the requests the `feed_server` fixture received (Slack secrets only: a feed
  URL may carry its own credentials), and every file under the test's
  `tmp_path` (store files, service logs, anything the bot wrote).

It also flags any Slack-token-shaped string (`xoxb-…`, `xapp-…` with 10 or
more token characters) that is not a registered secret, so a token a test
invents inline is caught too. A leak fails the phase with the test, the
place, the line and a redacted excerpt; the secret itself is never printed,
and the captured sections pytest shows for the failure are redacted as well.

Not obvious:
- Seeing DEBUG records must not change what tests see. A handler on chosen
  loggers would miss records: a logger set to WARNING never makes its DEBUG
  ones, one that does not propagate never reaches the root. So the plugin
  patches `logging.Logger` for the session: `isEnabledFor` says yes from
  DEBUG up, whatever the levels, so every record is made; `callHandlers`
  keeps each record once and hands on only those the levels as configured
  would have made. No level changes, so a test's `caplog.set_level` works as
  usual; and a logger the bot quiets (httpx in `briefbot run`) is scanned
  too, since an operator may turn it back on.
- Records from background threads that outlive a test land in the next
  phase that runs; the message names the logger so they can be traced.
- Only registered values are searched in files and feed requests, not the
  token shape: deploy examples and fixtures may hold placeholder tokens.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import weakref
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakeslack import DEFAULT_APP_TOKEN, DEFAULT_TOKEN

__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "CLIENT_SECRET",
    "DATABASE_PASSWORD",
    "FEED_API_KEY",
    "FEED_PASSWORD",
    "FEED_TOKEN",
    "FEED_USER",
    "LLM_KEY",
    "OTHER_SECRET_KEY",
    "SECRETS",
    "SECRET_KEY",
    "SIGNING_SECRET",
    "WORKSPACE_A_TOKEN",
    "WORKSPACE_B_TOKEN",
    "WRONG_APP_TOKEN",
    "WRONG_BOT_TOKEN",
    "Leak",
    "find_leaks",
    "record_output",
    "redact",
]

# -- the registry ----------------------------------------------------------------------
# Distinctive values: each is long, and its last 16 characters occur nowhere else.

#: The bot token the `fake_slack` fixture accepts (tests/support/fakeslack.py owns the value).
BOT_TOKEN = DEFAULT_TOKEN
#: The app-level (Socket Mode) token the fake accepts.
APP_TOKEN = DEFAULT_APP_TOKEN
#: The signing secret HTTP-mode tests sign requests with.
SIGNING_SECRET = "5ign1ng-s3cr3t-f0r-br1efb0t-t3sts"
#: A bot token the fake refuses (`invalid_auth`): start-up and delivery refusals.
WRONG_BOT_TOKEN = "xoxb-0000000000-1111111111-wr0ngT0k3nV4lu3zz"
#: An app-level token the fake refuses.
WRONG_APP_TOKEN = "xapp-1-A0FAKEAPP-999-n0tTh3R1ghtApPt0k3n"
#: Many workspaces (Slack's OAuth): the bot tokens two workspaces get at install,
#: the app's client secret, and BRIEFBOT_SECRET_KEY (a Fernet key) and another one.
WORKSPACE_A_TOKEN = "xoxb-2000000001-3000000001-w0rkspaceAlphaB0tT0ken"
WORKSPACE_B_TOKEN = "xoxb-2000000002-3000000002-w0rkspaceBetaB0tT0kenz"
CLIENT_SECRET = "c1ient-s3cret-0f-the-distributed-app"
SECRET_KEY = "YnJpZWZib3QtdGVzdC1zZWNyZXQta2V5LTMyYnl0ZXM="
OTHER_SECRET_KEY = "YW5vdGhlci1rZXktbm90LXRoZS1vbmUtaW4tdXNlISE="
#: Feed URL credentials (user info, query token) that check-config must hide.
FEED_PASSWORD = "hunter2PASSWORDxy"
FEED_TOKEN = "QUERYtokenVALUE77"
#: The user of a feed behind basic auth, and its `?api_key=`: fetching must hide both.
FEED_USER = "feed-reader-USERNAMEq"
FEED_API_KEY = "APIkeyOFtheFEED4321"
FEED_SECRET_NAMES = ("FEED_PASSWORD", "FEED_TOKEN", "FEED_USER", "FEED_API_KEY")
#: The password of the test PostgreSQL server (tests/support/postgres.py): in every test
#: database URL, and never to be shown (check-config, errors, logs).
DATABASE_PASSWORD = "pgPASSWORDofTHEtestSERVER5"
#: The language model's key (BRIEFBOT_LLM_KEY) the loopback chat server accepts
#: (tests/support/chatserver.py): only ever in the Authorization header it receives.
LLM_KEY = "sk-llmKEYforTHEchatSERVERq9"

TAIL = 16  # a leak of the last 16 characters counts as a leak
SLACK_SECRET_NAMES = (
    "BOT_TOKEN",
    "APP_TOKEN",
    "SIGNING_SECRET",
    "WRONG_BOT_TOKEN",
    "WRONG_APP_TOKEN",
    "WORKSPACE_A_TOKEN",
    "WORKSPACE_B_TOKEN",
    "CLIENT_SECRET",
    "SECRET_KEY",
    "OTHER_SECRET_KEY",
)
ENVIRONMENT_SECRETS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_SECRET",
    "BRIEFBOT_SECRET_KEY",
    "BRIEFBOT_LLM_KEY",
)


def _registry() -> dict[str, str]:
    names = (*SLACK_SECRET_NAMES, *FEED_SECRET_NAMES, "DATABASE_PASSWORD", "LLM_KEY")
    named = {name: globals()[name] for name in names}
    # A real secret in the developer's environment must never show either.
    for variable in ENVIRONMENT_SECRETS:
        value = os.environ.get(variable, "").strip()
        if len(value) > TAIL and value not in named.values():
            named[f"{variable} from the environment"] = value
    tails = [value[-TAIL:] for value in named.values()]
    assert all(len(value) > TAIL for value in named.values()), "test secrets must be long"
    assert len(set(tails)) == len(tails), "each test secret needs its own last 16 characters"
    return named


#: Every secret the detector looks for, by name.
SECRETS: Mapping[str, str] = _registry()
_SLACK_SECRETS = {
    name: value
    for name, value in SECRETS.items()
    if name in SLACK_SECRET_NAMES or name.endswith("from the environment")
}
TOKEN_SHAPE = re.compile(r"\b(?:xox[abeoprs]|xapp)-[0-9A-Za-z][0-9A-Za-z-]{9,}")

# -- finding and redacting ---------------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    """One secret (or its tail, or a token-shaped string) found in one place."""

    name: str  # the registry name, or "a Slack-token-shaped string"
    where: str
    line: int
    whole: bool  # the whole value, not just its last 16 characters
    excerpt: str  # the line around it, redacted

    def describe(self) -> str:
        what = self.name if self.whole else f"the last {TAIL} characters of {self.name}"
        return f"{what} in {self.where}, line {self.line}: {self.excerpt}"


def redact(text: str, secrets: Mapping[str, str] = SECRETS) -> str:
    """`text` with every registered secret, tail and token-shaped string replaced by its name."""
    for name, value in secrets.items():
        text = text.replace(value, f"«{name}»")
    for name, value in secrets.items():
        text = text.replace(value[-TAIL:], f"«end of {name}»")
    return TOKEN_SHAPE.sub("«token-shaped»", text)


def _excerpt(text: str, position: int, secrets: Mapping[str, str]) -> tuple[int, str]:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start : end if end >= 0 else len(text)]
    shown = redact(line, secrets)
    if len(shown) > 200:
        shown = shown[:200] + "…"
    return text.count("\n", 0, position) + 1, repr(shown)


def find_leaks(
    where: str, text: str, secrets: Mapping[str, str] = SECRETS, *, shapes: bool = True
) -> list[Leak]:
    """Each secret (whole, or its last 16 characters) in `text`; token shapes unless told not to."""
    leaks: list[Leak] = []
    for name, value in secrets.items():
        position = text.find(value[-TAIL:])
        if position < 0:
            continue
        whole = text.find(value)
        line, excerpt = _excerpt(text, whole if whole >= 0 else position, secrets)
        leaks.append(Leak(name, where, line, whole >= 0, excerpt))
    if shapes:
        for match in TOKEN_SHAPE.finditer(text):
            found = match.group()
            if not any(value in found or found in value for value in SECRETS.values()):
                line, excerpt = _excerpt(text, match.start(), secrets)
                leaks.append(Leak("a Slack-token-shaped string", where, line, True, excerpt))
                break  # one is enough to point at the place
    return leaks


def scan_tree(root: Path, secrets: Mapping[str, str] = SECRETS) -> list[Leak]:
    """Every regular file under `root` (symlinks not followed), searched as bytes first."""
    needles = [value[-TAIL:].encode() for value in secrets.values()]
    leaks: list[Leak] = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                data = path.read_bytes()
            except OSError:  # removed meanwhile by a server thread: nothing to read
                continue
            if any(needle in data for needle in needles):
                where = f"file {path.relative_to(root)} under tmp_path"
                text = data.decode("utf-8", errors="replace")
                leaks += find_leaks(where, text, secrets, shapes=False)
    return leaks


# -- what the plugin collects between reports -------------------------------------------

_pending: list[tuple[str, str]] = []
_pending_lock = threading.Lock()


def record_output(where: str, *texts: str | bytes | None) -> None:
    """Hand output the test holds (a subprocess's stdout/stderr) to the detector.

    It is scanned when the current test phase ends. `where` names the source,
    e.g. "briefbot check-config stderr"; it must not contain a secret.
    """
    joined = "\n".join(
        t.decode("utf-8", errors="replace") if isinstance(t, bytes) else t for t in texts if t
    )
    if joined:
        with _pending_lock:
            _pending.append((where, joined))


def _take_pending() -> list[tuple[str, str]]:
    with _pending_lock:
        taken = list(_pending)
        _pending.clear()
    return taken


# -- logging: every logger at DEBUG, without changing what tests see ----------------------

_original_is_enabled_for = logging.Logger.isEnabledFor
_original_call_handlers = logging.Logger.callHandlers
_FORMATTER = logging.Formatter("%(levelname)s %(name)s: %(message)s")
# Per record: whether the logger tree as configured emits it (decided once, at
# the first logger that handles it; a record handed on by hand keeps it).
_shown: weakref.WeakKeyDictionary[logging.LogRecord, bool] = weakref.WeakKeyDictionary()
_shown_lock = threading.Lock()


def _is_enabled_for(self: logging.Logger, level: int) -> bool:
    """Every logger makes its records from DEBUG up, whatever its level says."""
    if level >= logging.DEBUG and not self.disabled and self.manager.disable < level:
        return True
    return _original_is_enabled_for(self, level)


def _keep(record: logging.LogRecord) -> None:
    try:
        text = _FORMATTER.format(record)
    except Exception:  # a malformed record (bad %-args): keep what there is
        text = f"{record.msg!r} {record.args!r}"
    with _pending_lock:
        _pending.append((f"a log record of {record.name} ({record.levelname})", text))


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    """Keep every record; pass on those the unchanged levels would have made."""
    with _shown_lock:
        shown = _shown.get(record)
        first = shown is None
        if shown is None:
            shown = _shown[record] = _original_is_enabled_for(self, record.levelno)
    if first:
        _keep(record)
    if shown:
        _original_call_handlers(self, record)


_original_readouterr: Any = None


def _recording_readouterr(self: pytest.CaptureFixture[Any]) -> Any:
    result = _original_readouterr(self)
    record_output("capsys/capfd readouterr() stdout", result.out)
    record_output("capsys/capfd readouterr() stderr", result.err)
    return result


def pytest_configure(config: pytest.Config) -> None:
    global _original_readouterr
    logging.Logger.isEnabledFor = _is_enabled_for  # type: ignore[method-assign]
    logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]
    # What a test reads with capsys never reaches pytest's report sections.
    _original_readouterr = pytest.CaptureFixture.readouterr
    pytest.CaptureFixture.readouterr = _recording_readouterr  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.Logger.isEnabledFor = _original_is_enabled_for  # type: ignore[method-assign]
    logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign]
    if _original_readouterr is not None:
        pytest.CaptureFixture.readouterr = _original_readouterr  # type: ignore[method-assign]


# -- the verdict -------------------------------------------------------------------------


def _fixture_leaks(item: pytest.Item) -> Iterator[Leak]:
    """What the bot sent to the test's fake servers, and the files under its tmp_path."""
    values: dict[str, Any] = getattr(item, "funcargs", None) or {}
    fake_slack = values.get("fake_slack")
    for call in getattr(fake_slack, "calls", lambda: [])():
        params = json.dumps(call.params, default=str, ensure_ascii=False)
        yield from find_leaks(f"what the bot sent to the fake Slack ({call.method})", params)
    feed_server = values.get("feed_server")
    for request in getattr(feed_server, "requests", lambda: [])():
        headers = "\n".join(f"{name}: {value}" for name, value in request.headers.items())
        text = f"{request.method} {request.path}\n{headers}"
        yield from find_leaks("a request to the feed server", text, _SLACK_SECRETS, shapes=False)
    tmp_path = values.get("tmp_path")
    if isinstance(tmp_path, Path) and tmp_path.is_dir():
        yield from scan_tree(tmp_path)


def _sections(report: pytest.TestReport, when: str) -> Iterable[tuple[str, str]]:
    for title, content in report.sections:
        if title.startswith("Captured ") and title.endswith(f" {when}"):
            yield f"pytest's {title[len('Captured ') :]} capture", content


def _redact_report(item: pytest.Item, report: pytest.TestReport) -> None:
    """Keep the secret out of the captured output pytest prints for the failure."""
    report.sections = [(title, redact(content)) for title, content in report.sections]
    item._report_sections = [  # later phases' reports are built from these
        (when, key, redact(content)) for when, key, content in item._report_sections
    ]


def _message(item: pytest.Item, when: str, leaks: list[Leak]) -> str:
    lines = [f"secret leak during {when} of {item.nodeid}:"]
    seen: set[tuple[str, str]] = set()
    for leak in leaks:
        if (leak.name, leak.where) in seen:
            continue
        seen.add((leak.name, leak.where))
        lines.append(f"  {leak.describe()}")
        if len(lines) > 12:
            lines.append(f"  … and more ({len(leaks)} findings in all)")
            break
    lines.append(
        "Test secrets are registered in tests/support/secretscan.py; values shown «redacted»."
    )
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    texts = [*_sections(report, call.when), *_take_pending()]
    leaks = [leak for where, text in texts for leak in find_leaks(where, text)]
    if call.when == "teardown":
        leaks += _fixture_leaks(item)
    if leaks:
        _redact_report(item, report)
        message = _message(item, call.when, leaks)
        if report.failed:
            report.sections.append(("secret leak", message))
        else:
            report.outcome = "failed"
            report.longrepr = message
            if hasattr(report, "wasxfail"):
                del report.wasxfail
    return report
