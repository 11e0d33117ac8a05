"""The commands that only read (`search`, `status`, `digest --dry-run`, `check-config`).

They open the data directory read-only, so they work while `briefbot run`
holds it; `poll`, which writes, is refused with the holder's pid. The holder
is a real `briefbot run` subprocess against the fake Slack and a loopback feed
(started as tests/app/test_service.py starts it), and every command is run as
a user runs it: `python -m bot ...` in a subprocess, its output read.

`status` is also run on a directory that does not exist yet (it must not
create one) and on one where a feed fails (its error shown).
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app.cli.shared import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from bot.models import Alert
from bot.store.ports import DeliveryProblem
from bot.store.tinydb.store import TinyStore
from tests.app.test_cli import clean_env, run_cli, write_feeds
from tests.app.test_service import (
    ALICE,
    Service,
    prepare_data_dir,
    service_env,
    shown_text,
    wait_for,
    write_config,
)
from tests.support.backends import Backend
from tests.support.fakeslack import FakeSlack
from tests.support.feedgen import Entry, make_rss, numbered_entries
from tests.support.feedserver import FeedServer

RULE = Entry(
    "Additions to the Entity List",
    "https://www.federalregister.gov/d/2026-12345",
    guid="2026-12345",
    summary="BIS adds 12 entities to the Entity List.",
    published=datetime.now(UTC),
)


@dataclass(frozen=True)
class Held:
    """A running `briefbot run` and what it talks to."""

    config: Path
    service: Service
    feeds: FeedServer
    slack: FakeSlack


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Held]:
    """`briefbot run` holding a data directory with 3 backlog items and 1 new one it stored.

    The new item matched Alice's subscription and her alert reached the fake
    Slack: the service has polled and committed before any test reads. Shared
    by the module's tests (they only read); stopped with SIGTERM at the end.
    """
    tmp_path = tmp_path_factory.mktemp("held")
    feeds, slack = FeedServer().start(), FakeSlack().start()
    service: Service | None = None
    try:
        backlog = numbered_entries(1, 3, prefix="Notice")
        feeds.add("/fr.rss", make_rss(backlog))
        config = write_config(tmp_path, feeds.url("/fr.rss"))
        prepare_data_dir(config, Backend("tinydb"))  # the CLI reading the directory it writes
        feeds.add("/fr.rss", make_rss([RULE, *backlog]))
        logs = tmp_path / "logs"
        logs.mkdir()
        service = Service(config, service_env(slack), logs)
        wait_for(lambda: slack.messages(), 30, "alert at the fake Slack", service)
        wait_for(lambda: "briefbot running" in service.output(), 10, "start-up log", service)
        [dm] = slack.messages()
        assert dm.channel == f"D{ALICE}" and RULE.title in shown_text(dm)
        yield Held(config, service, feeds, slack)
        assert service.proc.poll() is None, f"the service stopped:\n{service.output()}"
        service.proc.send_signal(signal.SIGTERM)
        assert service.wait(timeout=15) == EXIT_OK, service.output()
        assert len(slack.messages()) == 1, "nothing was posted twice"
    finally:
        if service is not None:
            service.kill()
        feeds.stop()
        slack.stop()
    assert not feeds.errors and not slack.errors, (feeds.errors, slack.errors)


def cli(config: Path, *args: str) -> tuple[int, str, str]:
    """`briefbot --config CONFIG ARGS...` in a subprocess: (exit status, stdout, stderr)."""
    result = run_cli("--config", str(config), *args, env=clean_env())
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout, result.stderr


def row_of(out: str, feed_id: str) -> list[str]:
    """The cells of a feed's row in the `briefbot status` table."""
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if cells and cells[0] == feed_id:
            return cells
    raise AssertionError(f"no row for feed {feed_id} in:\n{out}")


# -- while `briefbot run` holds the data -------------------------------------------------


def test_search_reads_the_store_while_the_service_holds_it(
    held: Held,
) -> None:
    config = held.config
    code, out, err = cli(config, "search", '"entity list"')
    assert code == EXIT_OK, err
    assert "1 result(s) for" in out
    assert RULE.title in out
    assert re.search(r"│ Federal Register BIS +│", out), "the feed column names the feed"
    code, out, err = cli(config, "search", "notice")
    assert code == EXIT_OK, err
    assert "3 result(s) for notice" in out
    assert all(f"Notice {n}" in out for n in (1, 2, 3))


def test_chart_reads_the_store_while_the_service_holds_it(held: Held, tmp_path: Path) -> None:
    """Not refused as locked (exit 3): the store is read, and found to hold no Entity List
    facts (the held feed's abstract names no BIS rule the reader recognises)."""
    out = tmp_path / "chart.png"
    code, _out, err = cli(held.config, "chart", "entity-list", "--out", str(out))
    assert code == EXIT_FAILED, err
    assert "No Entity List additions are stored for 90 days to" in " ".join(err.split())
    assert not out.exists()


def test_status_shows_the_feed_and_store_counts_while_the_service_holds_it(
    held: Held,
) -> None:
    config = held.config
    code, out, err = cli(config, "status")
    assert code == EXIT_OK, err
    cells = row_of(out, "fr")
    # feed, status, last success, failures, items stored, next poll, error / warning
    assert cells[1] == "ok"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", cells[2]), cells[2]
    assert (cells[3], cells[4]) == ("0", "4")
    assert cells[5] != "-", "a running feed has a next poll"
    assert "4 items stored (last seq 4), 0 remembered after pruning" in out
    assert "0 alerts queued." in out, "Alice's alert was delivered"
    assert "delivery to" not in out


def test_status_json_while_the_service_holds_it(held: Held) -> None:
    config = held.config
    code, out, err = cli(config, "status", "--json")
    assert code == EXIT_OK, err
    status: dict[str, Any] = json.loads(out)
    [feed] = status["feeds"]
    assert {k: feed[k] for k in ("id", "name", "status", "consecutive_failures")} == {
        "id": "fr",
        "name": "Federal Register BIS",
        "status": "ok",
        "consecutive_failures": 0,
    }
    assert feed["items_stored"] == 4
    assert feed["last_error"] is None
    assert feed["last_success"] is not None and feed["next_poll"] is not None
    assert (status["store"]["items"], status["store"]["last_seq"]) == (4, 4)
    assert status["alerts_queued"] == 0
    assert status["delivery_problems"] == {}


def test_digest_dry_run_while_the_service_holds_it(held: Held) -> None:
    config = held.config
    code, out, err = cli(config, "digest", "--channel", "C0DIGEST01", "--dry-run")
    assert code == EXIT_OK, err
    assert RULE.title in out
    assert "Notice 1" not in out, "backlog items are not digested"
    code, out, err = cli(config, "digest", "--channel", "C0DIGEST01", "--dry-run", "--json")
    assert code == EXIT_OK, err
    payloads = json.loads(out)
    assert payloads[0]["channel"] == "C0DIGEST01"
    assert RULE.title in json.dumps(payloads)


def test_check_config_while_the_service_holds_it(held: Held) -> None:
    config = held.config
    code, out, err = cli(config, "check-config")
    assert code == EXIT_OK, err
    assert f"{config}: valid" in out
    code, out, err = cli(config, "check-config", "--json")
    assert code == EXIT_OK, err
    described = json.loads(out)
    assert [f["id"] for f in described["feeds"]] == ["fr"]


def test_poll_is_refused_naming_the_service_that_holds_the_data(held: Held) -> None:
    config, service = held.config, held.service
    code, out, err = cli(config, "poll")
    assert code == EXIT_LOCKED, out + err
    said = " ".join(err.split())  # the terminal wraps long lines
    data = config.parent / "data"
    assert f"error: data directory {data} is in use by process {service.proc.pid} " in said
    assert said.endswith("; stop it or use another BRIEFBOT_DATA")
    assert "polled" not in out, "refused before polling"


def test_every_reading_command_in_a_row_leaves_the_service_running(held: Held) -> None:
    config, service = held.config, held.service
    for args in (
        ["search", "entity"],
        ["status"],
        ["status", "--json"],
        ["digest", "--channel", "C0DIGEST01", "--dry-run"],
        ["check-config"],
    ):
        code, _, err = cli(config, *args)
        assert code == EXIT_OK, (args, err)
    assert service.proc.poll() is None
    # The service still holds the directory: a writer is still refused.
    code, _, err = cli(config, "poll")
    assert code == EXIT_LOCKED and str(service.proc.pid) in err
    assert len(held.slack.messages()) == 1, "nothing posted twice"


# -- status without a service ------------------------------------------------------------


def test_status_on_a_fresh_directory_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_feeds(tmp_path / "feeds.yaml", {"first": "https://example.org/first.xml"}, data)
    # A directory that does not exist is refused (a typo must not read as empty) ...
    code, out, err = cli(config, "status")
    assert code == EXIT_USAGE, out
    assert f"no data directory at {data}" in " ".join(err.split())
    assert not data.exists(), "a read-only command must not create the data directory"
    # ... an empty one is a bot that has not polled yet.
    data.mkdir()
    code, out, err = cli(config, "status")
    assert code == EXIT_OK, err
    cells = row_of(out, "first")
    assert cells[1:6] == ["not polled yet", "-", "0", "0", "-"]
    assert "0 items stored (last seq 0)" in out
    assert "0 alerts queued." in out
    code, out, err = cli(config, "status", "--json")
    assert code == EXIT_OK, err
    status = json.loads(out)
    assert [(f["id"], f["status"], f["items_stored"]) for f in status["feeds"]] == [
        ("first", "not polled yet", 0)
    ]
    assert status["store"]["items"] == 0
    assert list(data.iterdir()) == [], "a read-only command must not write"


def test_status_on_a_fresh_directory_counts_no_files(tmp_path: Path) -> None:
    config = write_feeds(
        tmp_path / "feeds.yaml", {"first": "https://example.org/first.xml"}, tmp_path / "data"
    )
    (tmp_path / "data").mkdir()
    code, out, err = cli(config, "status", "--json")
    assert code == EXIT_OK, err
    assert json.loads(out)["store"] == {
        "items": 0,
        "tombstones": 0,
        "last_seq": 0,
        "bytes": 0,
        "files": 0,
    }


def test_status_shows_a_failing_feed_and_its_error(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/good.xml", make_rss(numbered_entries(1, 2)))
    feed_server.add("/bad.xml", b"<html>upstream broke</html>", status=500)
    config = write_feeds(
        tmp_path / "feeds.yaml",
        {"good": feed_server.url("/good.xml"), "bad": feed_server.url("/bad.xml")},
        tmp_path / "data",
    )
    code, _, err = cli(config, "poll")
    assert code == EXIT_OK, err  # not every feed failed
    feed_server.add("/good.xml", b"gone", status=503)
    code, _, err = cli(config, "poll", "--feed", "good")
    assert code == EXIT_FAILED, err

    code, out, err = cli(config, "status")
    assert code == EXIT_OK, err
    bad = row_of(out, "bad")
    assert (bad[1], bad[2], bad[3], bad[4]) == ("failing", "-", "1", "0")
    assert bad[6] == "HTTP 500 Internal Server Error"
    good = row_of(out, "good")
    assert (good[1], good[3], good[4]) == ("failing", "1", "2")
    assert good[2] != "-", "it worked once"
    assert good[6] == "HTTP 503 Service Unavailable"
    assert "2 items stored (last seq 2)" in out

    code, out, err = cli(config, "status", "--json")
    assert code == EXIT_OK, err
    feeds = {f["id"]: f for f in json.loads(out)["feeds"]}
    assert (feeds["bad"]["status"], feeds["bad"]["consecutive_failures"]) == ("failing", 1)
    assert feeds["bad"]["last_error"] == "HTTP 500 Internal Server Error"
    assert feeds["bad"]["last_success"] is None
    assert feeds["good"]["last_error"] == "HTTP 503 Service Unavailable"


def test_status_lists_queued_alerts_and_delivery_problems(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, data)
    at = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    error = "cannot post to C0LOCKED001: not_in_channel — invite the bot with /invite @briefbot"
    with TinyStore.open(data) as store, store.transaction() as tx:
        tx.delivery_problems.record(DeliveryProblem("C0LOCKED001", error, at))
        tx.alerts.enqueue(
            Alert(owner, seq, ("s0001",), created_at=at, due_at=at)
            for owner, seq in [("C0LOCKED001", 1), ("C0LOCKED001", 2), (ALICE, 1)]
        )

    code, out, err = cli(config, "status")
    assert code == EXIT_OK, err
    assert "3 alerts queued." in out
    assert f"delivery to C0LOCKED001 failed: {error} (2026-11-25 09:30)" in out
    code, out, err = cli(config, "status", "--json")
    assert code == EXIT_OK, err
    status = json.loads(out)
    assert status["alerts_queued"] == 3
    assert status["delivery_problems"] == {
        "C0LOCKED001": {"error": error, "at": "2026-11-25 09:30:00+00:00"}
    }
