"""Fixtures shared by the whole test suite.

Keep this file to fixtures other test modules reuse; module-specific helpers
belong in their test module.

Every test runs under a loopback tripwire: a Python audit hook refuses any
socket connection to an address outside 127.0.0.0/8 and ::1 and fails the
test that tried it. Tests must never need the network, and the SSRF tests in
particular must not reach a private address even when the guard under test is
broken (issue 7).

Every test also runs under the secret-leak detector (tests/support/secretscan.py,
loaded below as a plugin): a registered test token, signing secret or feed
credential in the test's output, logs (DEBUG included), subprocess output,
fake-Slack traffic or tmp_path files fails the test.

How the run is spread over pytest-xdist workers (`pytest -n auto`, .ci/run): a
module runs on one worker (`--dist loadscope`), and the modules with a test
marked `slow` are handed out first (`pytest_collection_modifyitems`; xdist's
own reordering, biggest module first, is off): a one-test module that runs for
a minute and a half (tests/app/test_replicas.py) would otherwise come last and
run alone at the end.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Test modules import their helpers as `tests.support.feedserver`, `tests.support.feedgen`; the
# tests folder is not a package, so make the project root importable (the same
# as `pythonpath = ["."]` in pytest's configuration would).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.chatserver import ChatServer  # noqa: E402
from tests.support.feedserver import FeedServer  # noqa: E402
from tests.support.responseurl import ResponseUrlServer  # noqa: E402

pytest_plugins = ["tests.support.secretscan"]

_LOCAL_NETS = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("::ffff:127.0.0.0/104"),
)
_violations: list[str] = []
_violations_lock = threading.Lock()


class NonLoopbackConnectionError(ConnectionRefusedError):
    """Raised inside socket.connect when a test aims off the machine."""


def _is_loopback(host: Any) -> bool:
    try:
        ip = ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False  # a host name: the code under test should have resolved it
    return any(ip in net for net in _LOCAL_NETS if net.version == ip.version)


def _loopback_tripwire(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect":
        return
    address = args[1]
    # Unix sockets (a path) and other families stay on the machine.
    if not isinstance(address, tuple) or _is_loopback(address[0]):
        return
    text = f"{address[0]} port {address[1]}"
    with _violations_lock:
        _violations.append(text)
    raise NonLoopbackConnectionError(f"test tried to connect to {text}; tests stay on loopback")


sys.addaudithook(_loopback_tripwire)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules with a test marked `slow` first, each module's tests kept together in order."""
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_modules)  # stable: order kept otherwise


@pytest.fixture(autouse=True)
def _stay_on_loopback() -> Iterator[None]:
    """Fail any test during which something tried to connect off loopback."""
    with _violations_lock:
        _violations.clear()
    yield
    with _violations_lock:
        seen = list(_violations)
        _violations.clear()
    assert not seen, f"connections attempted outside loopback: {seen}"


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A started loopback chat-completions endpoint that wants the test LLM key."""
    from tests.support.secretscan import LLM_KEY

    server = ChatServer(key=LLM_KEY).start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"chat server handler errors: {server.errors!r}"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started loopback feed server (127.0.0.1, port 0), stopped after the test.

    Add routes with `feed_server.add(path, body, ...)`; read what clients sent
    from `feed_server.requests()`. Fails the test if a route handler crashed.
    """
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"feed server handler errors: {server.errors!r}"


from tests.support.fakeslack import FakeSlack  # noqa: E402


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A started fake Slack Web API on loopback, stopped after the test.

    Point the real client at it: `WebClient(token=fake_slack.token,
    base_url=fake_slack.url)`, or `SlackSecrets(bot_token=fake_slack.token,
    api_url=fake_slack.url)`. Read what arrived from `fake_slack.calls()` and
    `fake_slack.messages(channel)`; program faults with `fail_next` / `down`.
    Fails the test if the fake itself crashed while answering.
    """
    server = FakeSlack().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"fake Slack handler errors: {server.errors!r}"


@pytest.fixture
def responses() -> Iterator[ResponseUrlServer]:
    """A loopback response_url for slash-command replies (tests/support/responseurl.py)."""
    server = ResponseUrlServer()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, f"response_url handler errors: {server.errors!r}"


from tests.support.postgres import PostgresServer, PostgresUnavailable  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run (tests/support/postgres.py).

    Started at the first test that needs it and stopped at the end; a test that
    needs it is skipped, with the reason, only when no server can be started.
    """
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL cannot be started here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty database of the test server (its URL, password included), for this test only."""
    url = postgres_server.database()
    try:
        yield url
    finally:
        postgres_server.release(url)


from tests.support.backends import BACKENDS, Backend, BackendKind, fresh_backend  # noqa: E402


@pytest.fixture(scope="session", params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> BackendKind:
    """The backend of this run of a test (tinydb, postgres): the PostgreSQL server, if that one.

    Session-scoped so that package-scoped fixtures (a polled template) can follow it;
    `[postgres]` skips, with the reason, only when no server can be started.
    """
    if request.param == "postgres":
        return request.param, request.getfixturevalue("postgres_server")
    return request.param, None


@pytest.fixture
def backend(backend_kind: BackendKind) -> Iterator[Backend]:
    """The store this test's bot uses (tests/support/backends.py): its own database on PostgreSQL.

    A `[postgres]` test that never opened that database fails: it tested TinyDB only.
    """
    with fresh_backend(backend_kind) as chosen:
        yield chosen
        unused = chosen.check_used()
        assert unused is None, unused
