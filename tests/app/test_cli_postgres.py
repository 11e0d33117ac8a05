"""The CLI on PostgreSQL: `briefbot migrate` (and `--from-data-dir`), reading commands, secrets.

Each command runs in a child process with BRIEFBOT_DATABASE_URL set to a fresh
database of the test server; the URL holds the password, which must show
nowhere (the secret-leak detector reads the children's output).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app.cli.shared import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.models import FeedState
from bot.store.ports import Heartbeat
from bot.store.postgres.store import PgStore
from tests.app.test_cli import clean_env, run_cli
from tests.support import paths
from tests.support.secretscan import DATABASE_PASSWORD

RELEASE = paths.FIXTURES / "release-0.1"


def test_migrate_copies_a_data_directory_and_says_how_much(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    shutil.copytree(RELEASE / "data", data)
    env = clean_env(BRIEFBOT_DATABASE_URL=database_url)
    first = run_cli("migrate", "--from-data-dir", str(data), env=env, cwd=tmp_path)
    assert first.returncode == EXIT_OK, first.stderr
    assert "migrations applied: 0001_initial" in first.stdout
    assert "items: 15 in the directory, 15 new to the database" in first.stdout
    assert "tombstones: 6, 6 new" in first.stdout
    assert "counts checked" in first.stdout
    again = run_cli("migrate", "--from-data-dir", str(data), env=env, cwd=tmp_path)
    assert again.returncode == EXIT_OK, again.stderr
    assert "it was up to date" in again.stdout
    assert "15 in the directory, 0 new" in again.stdout
    with PgStore.open(database_url) as store:
        assert store.items.count() == 15

    # Reading commands read the database (no data directory needed).
    found = run_cli("search", "--json", "entity", env=env, cwd=tmp_path)
    assert found.returncode == EXIT_OK, found.stderr
    status = run_cli("status", "--json", env=env, cwd=tmp_path)
    assert status.returncode == EXIT_OK, status.stderr


def test_check_config_shows_the_database_without_its_password(
    tmp_path: Path, database_url: str
) -> None:
    env = clean_env(BRIEFBOT_DATABASE_URL=database_url)
    result = run_cli("check-config", "--json", env=env, cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr
    shown = json.loads(result.stdout)["settings"]["database_url"]
    assert DATABASE_PASSWORD not in shown
    assert shown.startswith("postgresql://***@127.0.0.1:")


def test_a_wrong_database_url_is_a_usage_error_that_hides_the_password(tmp_path: Path) -> None:
    url = f"mysql://app:{DATABASE_PASSWORD}@db/briefbot"
    result = run_cli("check-config", env=clean_env(BRIEFBOT_DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert "BRIEFBOT_DATABASE_URL must be a PostgreSQL URL" in result.stderr


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://app:{DATABASE_PASSWORD}@127.0.0.1:1/briefbot"
    result = run_cli("status", env=clean_env(BRIEFBOT_DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode != EXIT_OK
    assert "postgresql://app@127.0.0.1:1/briefbot" in result.stderr


def test_migrate_without_a_database_says_what_to_set(tmp_path: Path) -> None:
    result = run_cli("migrate", env=clean_env(), cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert "set BRIEFBOT_DATABASE_URL" in result.stderr


def test_health_names_each_replica_and_needs_a_live_leader(
    tmp_path: Path, database_url: str
) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - id: fr\n    url: https://example.org/fr.xml\n")
    now = datetime.now(UTC)
    with PgStore.open(database_url) as store:
        with store.transaction() as tx:
            tx.feed_states.put(FeedState("fr", last_attempt=now, last_success=now))
        for name, age, leader in [("web-a", 5, True), ("web-b", 10, False), ("web-c", 900, False)]:
            store.beat(
                Heartbeat(
                    at=now - timedelta(seconds=age),
                    pid=age,
                    slack_mode="http",
                    slack_ok=True,
                    replica=f"{name}:{age}:ab",
                    host=name,
                    leader=leader,
                )
            )
    env = clean_env(BRIEFBOT_DATABASE_URL=database_url)
    healthy = run_cli("--config", str(config), "health", env=env, cwd=tmp_path)
    assert healthy.returncode == EXIT_OK, healthy.stderr
    lines = healthy.stdout.splitlines()
    assert lines[:2] == ["healthy", "service: 2 of 3 replicas live, the leader web-a:5:ab"]
    assert any(line.startswith("replica web-a:5:ab (leader, pid 5 on web-a)") for line in lines)
    assert any(line.startswith("replica web-b:10:ab (pid 10 on web-b)") for line in lines)
    assert any(line.startswith("replica web-c:900:ab: stale, last heartbeat 9") for line in lines)

    with PgStore.open(database_url) as store:  # the leader's last beat, long ago
        store.beat(
            Heartbeat(
                at=now - timedelta(seconds=600),
                pid=5,
                slack_mode="http",
                slack_ok=True,
                replica="web-a:5:ab",
                host="web-a",
                leader=True,
            )
        )
    unhealthy = run_cli("--config", str(config), "health", env=env, cwd=tmp_path)
    assert unhealthy.returncode == EXIT_FAILED
    assert "service: 1 of 3 replicas live: none leads" in unhealthy.stderr
