"""`briefbot run` (bot.app.service.run_service) as a real process against a fake Slack and feed.

The service runs in a subprocess started with `python -c` calling
`run_service(load_config(path), port=0)`, with SLACK_API_URL aimed at the
loopback fake Slack and a loopback feed. The tests read what a person would
see: the direct message at "Slack", the log lines, the exit status, and the
store reopened after the process ended.

The tests of a running service take `backend` and run on TinyDB and on
PostgreSQL (BRIEFBOT_DATABASE_URL in the child's environment). Those that stop
before any store is opened (a bad token, no signing secret, Slack unreachable)
or are about the HTTP listener run once, on a data directory.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app.runtime import Runtime
from bot.app.service import EXIT_OK, run_service
from bot.brief.subscriptions import create_subscription
from bot.config.schema import load_config
from bot.store.tinydb.store import TinyStore
from tests.support import paths
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack, PostedMessage
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import SIGNING_SECRET, WRONG_BOT_TOKEN

ROOT = paths.ROOT
ALICE = "U0ALICE001"
RUN_SCRIPT = """
import logging, sys
from bot.config.schema import load_config
from bot.app.service import run_service
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(levelname)s %(name)s: %(message)s")
sys.exit(run_service(load_config(sys.argv[1]), port=0))
"""


def write_config(tmp_path: Path, feed_url: str) -> Path:
    doc: dict[str, Any] = {
        "settings": {
            "data_dir": str(tmp_path / "data"),
            "connect_timeout": 2,
            "read_timeout": 2,
            "total_timeout": 5,
        },
        "feeds": [
            {
                "id": "fr",
                "name": "Federal Register BIS",
                "url": feed_url,
                "interval": "1m",
                "allow_private": True,
            }
        ],
        "topics": [{"id": "entity-list", "query": '"entity list"'}],
        "digests": [{"channel": "C0DIGEST01", "at": "08:30", "timezone": "Asia/Tokyo"}],
    }
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def service_env(
    fake_slack: FakeSlack, *, token: str | None = None, backend: Backend | None = None
) -> dict[str, str]:
    """The service's environment: the fake Slack, and `backend`'s database if it has one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BRIEFBOT_"))}
    if backend is not None:
        env = backend.env(env)
    env.update(
        SLACK_API_URL=fake_slack.url,
        SLACK_BOT_TOKEN=token or fake_slack.token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        PYTHONUNBUFFERED="1",
    )
    return env


class Service:
    """The service subprocess; its stdout and stderr go to files read at any time."""

    def __init__(
        self, config_path: Path, env: dict[str, str], logs: Path, cli: list[str] | None = None
    ) -> None:
        self.out_path, self.err_path = logs / "stdout.txt", logs / "stderr.txt"
        # `cli`: run `briefbot --config PATH <cli...>` instead of run_service directly.
        if cli is None:
            command = [sys.executable, "-c", RUN_SCRIPT, str(config_path)]
        else:
            command = [sys.executable, "-m", "bot", "--config", str(config_path), *cli]
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
            )

    def output(self) -> str:
        return self.out_path.read_text("utf-8") + self.err_path.read_text("utf-8")

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(config_path: Path, env: dict[str, str], cli: list[str] | None = None) -> Service:
        logs = tmp_path / f"logs{len(started)}"
        logs.mkdir()
        service = Service(config_path, env, logs, cli)
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()


def wait_for(condition: Callable[[], object], timeout: float, what: str, service: Service) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if service.proc.poll() is not None:
            pytest.fail(
                f"service exited ({service.proc.returncode}) before {what}:\n{service.output()}"
            )
        time.sleep(0.05)
    pytest.fail(f"no {what} within {timeout} s; service output:\n{service.output()}")


_LISTENING = re.compile(r"Slack HTTP mode: listening on ([0-9.]+):(\d+)/slack/events")


def listening_address(service: Service) -> tuple[str, int]:
    """(host, port) the service's HTTP mode says it listens on, once it says so."""
    wait_for(lambda: _LISTENING.search(service.output()), 30, "the HTTP listener", service)
    found = _LISTENING.search(service.output())
    assert found is not None
    return found.group(1), int(found.group(2))


def shown_text(message: PostedMessage) -> str:
    return json.dumps(message.blocks, ensure_ascii=False) if message.blocks else message.text


def post_unsigned(url: str) -> int:
    """POST a slash command without Slack's signature; the HTTP status answered."""
    request = urllib.request.Request(url, data=b"command=%2Fbrief&text=help", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def prepare_data_dir(config_path: Path, backend: Backend) -> None:
    """The state a bot stopped two minutes ago leaves: backlog polled, Alice subscribed."""
    config = load_config(config_path, env=backend.env())
    two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
    with Runtime.open(config, clock=lambda: two_minutes_ago) as runtime:
        [report] = runtime.poll()
        assert (report.status, report.new_items, report.backlog) == ("ok", 3, True)
        with runtime.store.transaction() as tx:
            create_subscription(
                tx,
                owner=ALICE,
                created_by=ALICE,
                topic_or_query="entity-list",
                topics=runtime.topics(),
                now=two_minutes_ago,
            )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_service_polls_delivers_an_alert_and_stops_cleanly_on_a_signal(
    stop_signal: signal.Signals,
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
    backend: Backend,
) -> None:
    backlog = numbered_entries(1, 3, prefix="Notice")
    feed_server.add("/fr.rss", make_rss(backlog))
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    prepare_data_dir(config_path, backend)
    rule = Entry(
        "Additions to the Entity List",
        "https://www.federalregister.gov/d/2026-12345",
        guid="2026-12345",
        summary="BIS adds 12 entities to the Entity List.",
        published=datetime.now(UTC),
    )
    feed_server.add("/fr.rss", make_rss([rule, *backlog]))

    service = services(config_path, service_env(fake_slack, backend=backend))
    wait_for(lambda: fake_slack.messages(), 30, "alert at the fake Slack", service)
    wait_for(lambda: "briefbot running" in service.output(), 10, "start-up log", service)
    found = re.search(r"Slack HTTP mode on port (\d+), path /slack/events", service.output())
    assert found is not None, service.output()
    events_url = f"http://127.0.0.1:{found[1]}/slack/events"
    assert post_unsigned(events_url) == 401  # served, and only to Slack's signature
    time.sleep(0.3)  # anything more it would wrongly post has time to arrive
    stopping = time.monotonic()
    service.proc.send_signal(stop_signal)
    status = service.wait(timeout=15)
    took = time.monotonic() - stopping
    output = service.output()

    assert status == EXIT_OK, output
    assert took < 5, f"shutdown took {took:.1f} s"
    [dm] = fake_slack.messages()
    assert dm.channel == f"D{ALICE}"
    assert "Additions to the Entity List" in shown_text(dm)
    assert all(call.token == fake_slack.token for call in fake_slack.calls())
    # The start-up log names the feed, the digest channel and next run times; no secret.
    assert "poll fr (Federal Register BIS): every 1m, next " in output
    assert "digest C0DIGEST01: 08:30 Asia/Tokyo daily, next " in output
    assert f"{stop_signal.name} received: shutting down" in output
    assert "stopped cleanly" in output
    with pytest.raises(OSError):  # the Slack endpoint closed with the process
        post_unsigned(events_url)
    assert fake_slack.token not in output and SIGNING_SECRET not in output

    with backend.open(tmp_path / "data") as store:
        stored = {item.title: item.backlog for item in store.items.after()}
        queued = store.alerts.pending_count()
    assert stored == {
        "Notice 1": True,
        "Notice 2": True,
        "Notice 3": True,
        "Additions to the Entity List": False,
    }
    assert queued == 0  # delivered and recorded as such before the exit


def test_service_refuses_a_bad_token_with_a_clear_message(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
) -> None:
    wrong = WRONG_BOT_TOKEN
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    service = services(config_path, service_env(fake_slack, token=wrong))
    status = service.wait(timeout=30)
    output = service.output()
    assert status == 1, output
    assert "Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN" in output
    assert wrong[-16:] not in output
    assert [c.method for c in fake_slack.calls()] == ["auth.test"]
    assert feed_server.requests() == []  # nothing polled by a service that did not start


def test_service_without_signing_secret_stops_before_any_work(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
) -> None:
    feed_server.add("/fr.rss", make_rss(numbered_entries(1, 2)))
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    env = service_env(fake_slack)
    del env["SLACK_SIGNING_SECRET"]  # and no SLACK_APP_TOKEN: HTTP mode cannot verify Slack
    service = services(config_path, env)
    status = service.wait(timeout=30)
    output = service.output()
    # A missing setting is a configuration error (2: systemd does not restart on it),
    # found before the data directory is opened or Slack is called.
    assert status == 2, output
    assert "cannot start: HTTP mode needs SLACK_SIGNING_SECRET" in output
    assert feed_server.requests() == []
    assert fake_slack.calls() == []
    assert not (tmp_path / "data").exists()


def test_service_without_a_bot_token_is_a_configuration_error(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
) -> None:
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    env = service_env(fake_slack)
    del env["SLACK_BOT_TOKEN"]
    service = services(config_path, env, ["run", "--port", "0"])
    status = service.wait(timeout=30)
    output = service.output()
    assert status == 2, output
    assert "cannot start: SLACK_BOT_TOKEN is not set" in output
    assert "Traceback" not in output
    assert fake_slack.calls() == []


@pytest.mark.parametrize(
    ("host_args", "listening_on"),
    [
        pytest.param([], "127.0.0.1", id="default-loopback-only"),
        pytest.param(["--host", "0.0.0.0"], "0.0.0.0", id="every-interface"),
    ],
)
def test_run_listens_where_host_says(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
    host_args: list[str],
    listening_on: str,
) -> None:
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    service = services(config_path, service_env(fake_slack), ["run", "--port", "0", *host_args])
    host, port = listening_address(service)
    assert host == listening_on
    # Answered on 127.0.0.1 (503 until the first poll: see the /healthz test below).
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            first_line = r.read().decode().splitlines()[0]
    except urllib.error.HTTPError as refused:
        assert refused.code == 503
        first_line = refused.read().decode().splitlines()[0]
    assert first_line in ("healthy", "unhealthy")
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait(timeout=30) == 0, service.output()


# TinyDB only: the data directory's lock (several processes share one database by design).
def test_service_refuses_a_data_directory_in_use(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
) -> None:
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    with TinyStore.open(tmp_path / "data"):
        service = services(config_path, service_env(fake_slack))
        status = service.wait(timeout=30)
    output = service.output()
    assert status == 3, output
    assert f"is in use by process {os.getpid()}" in output
    assert fake_slack.calls() == []


def test_service_says_when_slack_cannot_be_reached(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
) -> None:
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    env = service_env(fake_slack)
    fake_slack.down("refuse")
    service = services(config_path, env)
    status = service.wait(timeout=30)
    output = service.output()
    assert status == 1, output
    assert f"cannot reach Slack at {fake_slack.url}" in output
    assert fake_slack.token not in output
    # One clear line, not one per retry of the Slack client.
    assert "Going to retry" not in output
    assert [line for line in output.splitlines() if "Slack" in line] == [
        line for line in output.splitlines() if "cannot start: cannot reach Slack" in line
    ]


def test_run_service_returns_when_stop_is_set(
    tmp_path: Path, feed_server: FeedServer, fake_slack: FakeSlack, backend: Backend
) -> None:
    feed_server.add("/fr.rss", make_rss(numbered_entries(1, 2)))
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    config = load_config(config_path, env=service_env(fake_slack, backend=backend))
    stop = threading.Event()
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(
            run_service(config, port=0, stop=stop, install_signal_handlers=False)
        )
    )
    worker.start()
    deadline = time.monotonic() + 15
    while not feed_server.requests("/fr.rss") and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    worker.join(timeout=15)
    assert not worker.is_alive()
    assert result == [EXIT_OK]
    with backend.open(tmp_path / "data") as store:  # released, with the first poll's backlog
        assert sorted(item.title for item in store.items.after()) == ["Story 1", "Story 2"]


def test_healthz_and_briefbot_health_say_the_service_works(
    tmp_path: Path,
    feed_server: FeedServer,
    fake_slack: FakeSlack,
    services: Callable[..., Service],
    backend: Backend,
) -> None:
    feed_server.add("/fr.rss", make_rss(numbered_entries(1, 2)))
    config_path = write_config(tmp_path, feed_server.url("/fr.rss"))
    env = service_env(fake_slack, backend=backend)
    service = services(config_path, env, ["run", "--port", "0"])
    _host, port = listening_address(service)
    url = f"http://127.0.0.1:{port}/healthz"

    def healthz() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    # Healthy once the first poll is done: heartbeat, Slack and polls all fine.
    wait_for(lambda: healthz()[0] == 200, 30, "a healthy /healthz", service)
    status, text = healthz()
    assert status == 200
    assert text.splitlines()[0] == "healthy"
    assert "slack: ok (HTTP mode)" in text and "polls: running" in text

    checked = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config_path), "health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0] == "healthy"
    assert f"pid {service.proc.pid}" in checked.stdout
    # A clean start says nothing alarming: not Bolt's "`token` will be unused".
    assert "WARNING" not in service.output() and "will be unused" not in service.output()
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait(timeout=30) == 0, service.output()
