"""The `briefbot` command line, driven as a user would: arguments in, text and exit status out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app.cli.main import build_parser, main
from bot.app.cli.shared import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from bot.store.tinydb.store import TinyStore
from tests.support.feedgen import Entry, blank_line_first, make_rss, numbered_entries
from tests.support.feedserver import FeedServer
from tests.support.secretscan import APP_TOKEN, BOT_TOKEN, LLM_KEY, record_output
from tests.support.secretscan import SIGNING_SECRET as SIGNING


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_"))}
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        cwd=cwd,
        timeout=120,
    )
    # The secret-leak detector scans what the child printed (tests/support/secretscan.py).
    record_output(f"briefbot {' '.join(args)} (stdout, stderr)", result.stdout, result.stderr)
    return result


def write_feeds(path: Path, urls: dict[str, str], data_dir: Path) -> Path:
    body = [f"settings:\n  data_dir: {data_dir}\n  connect_timeout: 2\n  read_timeout: 2\nfeeds:"]
    for fid, url in urls.items():
        body.append(f"  - id: {fid}\n    url: {url}\n    allow_private: true")
    path.write_text("\n".join(body) + "\n")
    return path


def add_digest(feeds: Path, channel: str) -> None:
    with feeds.open("a", encoding="utf-8") as out:
        out.write(f"digests:\n  - channel: {channel}\n    at: '08:30'\n    timezone: UTC\n")


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", subcommands())
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out
    assert "briefbot" in out.split("Example:")[1]


def test_no_command_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE == 2
    assert "poll" in capsys.readouterr().out


def test_unknown_command_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["pol"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'pol'" in capsys.readouterr().err


def test_check_config_redacts_secrets(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, tmp_path / "d")
    env = clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING,
        SLACK_APP_TOKEN=APP_TOKEN,
        BRIEFBOT_LLM_URL="https://llm.example/v1/chat/completions",
        BRIEFBOT_LLM_MODEL="gateway-model",
        BRIEFBOT_LLM_KEY=LLM_KEY,
    )
    result = run_cli("--config", str(feeds), "check-config", env=env)
    assert result.returncode == 0, result.stderr
    everything = result.stdout + result.stderr
    for secret in (BOT_TOKEN, SIGNING, APP_TOKEN, LLM_KEY):
        assert secret[-16:] not in everything
    assert "valid" in result.stdout
    described = json.loads(
        run_cli("--config", str(feeds), "check-config", "--json", env=env).stdout
    )
    assert described["feeds"][0]["id"] == "a"
    assert described["llm"] == {
        "url": "https://llm.example/v1/chat/completions",
        "model": "gateway-model",
        "key": "set",
        "timeout_seconds": 5.0,
    }


def test_check_config_warns_before_the_settings_and_fails_only_with_strict(
    tmp_path: Path,
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, tmp_path / "d")
    env = clean_env(SLACK_BOT_TOKEN=BOT_TOKEN)  # HTTP mode, no signing secret; no digests, admins
    expected = [
        f"{feeds}: warning: HTTP mode without SLACK_SIGNING_SECRET: `briefbot run` cannot "
        "verify Slack's requests and will not start; set it, or set SLACK_APP_TOKEN for "
        "Socket Mode",
        f"{feeds}: warning: no digests: no channel gets a morning briefing; add one under "
        "`digests:` (or with /brief schedule HH:MM in the channel)",
        f"{feeds}: warning: no admins: nobody can add feeds, set schedules or subscribe "
        "channels from Slack; list Slack user ids under `admins:`",
    ]

    plain = run_cli("check-config", "--config", str(feeds), env=env)
    assert plain.returncode == EXIT_OK, plain.stderr
    assert plain.stderr.splitlines() == expected
    assert plain.stdout.startswith(f"{feeds}: valid")

    strict = run_cli("check-config", "--config", str(feeds), "--strict", "--json", env=env)
    assert strict.returncode == EXIT_FAILED
    assert strict.stderr.splitlines() == expected
    assert json.loads(strict.stdout)["feeds"][0]["id"] == "a", "stdout stays pure JSON"


def test_check_config_on_the_shipped_file_is_valid_and_shows_the_screening_list() -> None:
    shipped = Path(__file__).parents[2] / "feeds.yaml"
    env = clean_env(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN)
    result = run_cli("--config", str(shipped), "check-config", "--json", env=env)
    assert result.returncode == EXIT_OK, result.stderr
    # Only what a fresh install has not set yet: no digests, no admins.
    warnings = result.stderr.splitlines()
    assert [w.split(": warning: ")[1][:13] for w in warnings] == ["no digests: n", "no admins: no"]
    listed = json.loads(result.stdout)["screening_list"]
    assert listed == {
        "url": "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv",
        "interval": "1d",
        "interval_seconds": 86400,
        "enabled": True,
        "allow_private": False,
        "allow_addresses": [],
    }


def test_check_config_names_file_line_and_field_of_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - id: fr-bis\n    url: https://example.org/a\n    intervall: 15m\n")
    result = run_cli("--config", str(bad), "check-config")
    assert result.returncode == 2
    assert f"{bad}:4" in result.stderr or "feeds.yaml:4" in result.stderr
    assert "intervall" in result.stderr
    assert "Traceback" not in result.stderr


def test_poll_prints_a_table_per_feed(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/ok.xml", make_rss(numbered_entries(1, 3)))
    feed_server.add("/bad.xml", b"nope", status=500)
    feeds = write_feeds(
        tmp_path / "feeds.yaml",
        {"good-feed": feed_server.url("/ok.xml"), "bad-feed": feed_server.url("/bad.xml")},
        tmp_path / "data",
    )
    assert main(["--config", str(feeds), "poll"]) == EXIT_OK
    out = capsys.readouterr().out
    good_row = next(line for line in out.splitlines() if "good-feed" in line)
    bad_row = next(line for line in out.splitlines() if "bad-feed" in line)
    assert "ok" in good_row and "3 backlog" in good_row
    assert "error" in bad_row and "500" in out
    assert "2 feeds polled, 1 failed, 3 items stored." in out


def last_column(table: str) -> str:
    """The text of a printed table's last column, its folded lines joined."""
    cells = [line.split("│")[-2].strip() for line in table.splitlines() if line.startswith("│")]
    return " ".join(cell for cell in cells if cell)


def test_poll_and_status_show_an_empty_feed_read_with_a_warning_as_ok(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/quiet.xml", blank_line_first(make_rss([])))
    feeds = write_feeds(
        tmp_path / "feeds.yaml", {"quiet": feed_server.url("/quiet.xml")}, tmp_path / "d"
    )
    warning = "warning: malformed XML at line 2: XML or text declaration not at start of entity"
    assert main(["--config", str(feeds), "poll"]) == EXIT_OK
    out = capsys.readouterr().out  # not a terminal: plain columns (bot/app/cli/plain.py)
    row = next(line for line in out.splitlines() if "quiet" in line)
    assert re.split(r"  +", row)[1] == "ok"
    assert re.split(r"  +", row)[-1] == warning
    assert "1 feeds polled, 0 failed, 0 items stored." in out

    assert main(["--config", str(feeds), "status"]) == EXIT_OK
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "quiet" in line)
    assert row.split("│")[2].strip() == "ok"
    assert last_column(out) == warning
    assert main(["--config", str(feeds), "status", "--json"]) == EXIT_OK
    [feed] = json.loads(capsys.readouterr().out)["feeds"]
    assert (feed["status"], feed["consecutive_failures"], feed["last_error"]) == ("ok", 0, None)
    assert feed["warning"] == warning.removeprefix("warning: ")


def test_poll_fails_when_every_feed_fails(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/bad.xml", b"nope", status=503)
    feeds = write_feeds(
        tmp_path / "feeds.yaml", {"bad": feed_server.url("/bad.xml")}, tmp_path / "d"
    )
    assert main(["--config", str(feeds), "poll"]) == EXIT_FAILED == 1
    assert "503" in capsys.readouterr().out


def test_poll_of_an_unknown_feed_id_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a"}, tmp_path / "d")
    assert main(["--config", str(feeds), "poll", "--feed", "nope"]) == 2
    assert "no feed with id nope" in capsys.readouterr().err


def test_a_second_process_is_refused_and_told_who_holds_the_data(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, tmp_path / "d")
    with TinyStore.open(tmp_path / "d"):
        result = run_cli("--config", str(feeds), "poll")
    assert result.returncode == EXIT_LOCKED == 3
    assert str(os.getpid()) in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_runs_offline_and_stores_only_new_items_on_the_second_poll(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "backlog" in out
    assert "New today" in out
    assert "not-modified" in out
    assert "Traceback" not in result.stderr


def test_check_config_reports_a_broken_template_override(tmp_path: Path) -> None:
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    (overrides / "digest.j2").write_text("{% for x in %}\n")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"settings:\n  templates_dir: {overrides}\nfeeds: []\n")
    result = run_cli("--config", str(feeds), "check-config")
    assert result.returncode == 2
    assert "digest.j2:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_digest_dry_run_json_prints_the_exact_payloads(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 2, now=two_days_ago)), etag='"1"')
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, tmp_path / "d")
    add_digest(feeds, "C0TEST0001")
    # Backlog published before the last day: not even in the channel's first digest.
    assert main(["--config", str(feeds), "poll"]) == 0
    feed_server.add(
        "/a.xml",
        make_rss(numbered_entries(1, 3, now=datetime.now(UTC), prefix="Story")),
        etag='"2"',
    )
    assert main(["--config", str(feeds), "poll"]) == 0
    capsys.readouterr()
    assert (
        main(["--config", str(feeds), "digest", "--channel", "C0TEST0001", "--dry-run", "--json"])
        == 0
    )
    payloads = json.loads(capsys.readouterr().out)
    assert payloads[0]["channel"] == "C0TEST0001"
    assert payloads[0]["unfurl_links"] is False and payloads[0]["unfurl_media"] is False
    assert "Story 3" in json.dumps(payloads)
    assert "Story 1" not in json.dumps(payloads), "older backlog items are not digested"
    # A dry run moves nothing: the same digest again.
    assert (
        main(["--config", str(feeds), "digest", "--channel", "C0TEST0001", "--dry-run", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == payloads
    # Without --json: what a reader sees, no raw mrkdwn (bold markers, <url|label>).
    assert main(["--config", str(feeds), "digest", "--channel", "C0TEST0001", "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert "Story 3" in shown
    assert "*" not in shown and "<http" not in shown and "|" not in shown, shown


def test_search_prints_results_and_query_errors(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add(
        "/a.xml",
        make_rss([Entry("Additions to the Entity List", "https://example.org/el", guid="el")]),
    )
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, tmp_path / "d")
    assert main(["--config", str(feeds), "poll"]) == 0
    capsys.readouterr()
    assert main(["--config", str(feeds), "search", '"entity list"']) == 0
    out = capsys.readouterr().out
    assert "Additions to the Entity List" in out and "1 result" in out
    assert main(["--config", str(feeds), "search", '"entity list']) == 2
    assert "unclosed quote at column 1" in capsys.readouterr().err


# ------------------------------------------------------------------- mistakes a person makes


def test_digest_without_a_token_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, tmp_path / "d")
    add_digest(feeds, "C0DIGEST01")
    result = run_cli("--config", str(feeds), "digest", "--channel", "C0DIGEST01")

    assert result.returncode == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr
    error = " ".join(result.stderr.split())  # the terminal may wrap the line
    assert error == (
        "error: SLACK_BOT_TOKEN is not set: the bot needs its xoxb- token to call Slack; "
        "set it in the environment, or use --dry-run to print the digest"
    )
    assert not (tmp_path / "d").exists(), "refused before the data directory was touched"


def test_a_dry_run_for_a_channel_without_a_digest_lists_the_configured_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, tmp_path / "d")
    add_digest(feeds, "C0DIGEST01")
    (tmp_path / "d").mkdir()

    code = main(["--config", str(feeds), "digest", "--channel", "C0OTHER001", "--dry-run"])

    assert code == EXIT_USAGE
    error = " ".join(capsys.readouterr().err.split())
    assert error == (
        f"error: {feeds}: no digest for channel C0OTHER001; configured: C0DIGEST01 (08:30 UTC). "
        "Add it under `digests:` (or with /brief schedule in the channel)."
    )


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["search", "ipef"], id="search"),
        pytest.param(["status"], id="status"),
        pytest.param(["digest", "--channel", "C0DIGEST01", "--dry-run"], id="digest-dry-run"),
    ],
)
def test_reading_commands_refuse_a_data_directory_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    typo = tmp_path / "dta"
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": "https://example.org/a.xml"}, typo)
    add_digest(feeds, "C0DIGEST01")

    code = main(["--config", str(feeds), *command])

    assert code == EXIT_USAGE
    error = " ".join(capsys.readouterr().err.split())
    assert error == (
        f"error: no data directory at {typo}: check --data-dir or BRIEFBOT_DATA "
        "(`briefbot poll` or `briefbot run` creates it)"
    )
    assert not typo.exists(), "a typo must not become an empty data directory"


def test_global_options_work_after_the_command_too(
    feed_server: FeedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.add("/a.xml", make_rss(numbered_entries(1, 2)), etag='"1"')
    feeds = write_feeds(tmp_path / "feeds.yaml", {"a": feed_server.url("/a.xml")}, tmp_path / "d")
    elsewhere = tmp_path / "elsewhere"

    assert main(["check-config", "--config", str(feeds), "--json"]) == EXIT_OK
    described = json.loads(capsys.readouterr().out)
    assert [f["id"] for f in described["feeds"]] == ["a"]
    # After the command, and overriding the file's data_dir; before it, the same.
    assert main(["poll", "--config", str(feeds), "--data-dir", str(elsewhere)]) == EXIT_OK
    assert main(["--config", str(feeds), "status", "--data-dir", str(elsewhere), "--json"]) == 0
    capsys.readouterr()
    assert main(["--config", str(feeds), "--data-dir", str(elsewhere), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [(f["id"], f["items_stored"]) for f in status["feeds"]] == [("a", 2)]
    assert not (tmp_path / "d").exists(), "--data-dir after the command was applied"
