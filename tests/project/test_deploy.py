"""deploy/ agrees with the contract, with itself and with docs/deploy.md.

Docker and Docker Compose cannot run here (no engine), so the Dockerfile, the
compose file and the systemd unit are parsed and checked for what an admin
relies on: non-root, data on the volume, no secrets in the image, the same
paths and port in every file. What can run for real does: the health check's
command against a good and a broken feeds.yaml, the environment file sourced
by a shell the way the guide says, the guide's feeds.yaml example through the
real config loader, `systemd-analyze verify` on the unit when it is installed.

The contract (/brief sub-commands, `briefbot` commands and flags, variables)
is PRODUCT.md's and issue 5's; it lives outside the repository, so it is
written out below. A command the CLI already has is checked by its real parser.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import setuptools  # type: ignore[import-untyped]  # no types-setuptools in the dev extras
import yaml

from bot.app.cli.main import build_parser
from bot.app.commands.dispatch import HANDLERS
from bot.config.schema import parse_config_text
from bot.models import FeedState
from bot.store.ports import Heartbeat
from bot.store.tinydb.store import TinyStore
from tests.support import paths

ROOT = paths.ROOT
DEPLOY = ROOT / "deploy"
GUIDE_PATH = ROOT / "docs" / "deploy.md"
GUIDE = GUIDE_PATH.read_text()
MANIFEST_TEXT = (DEPLOY / "slack-app-manifest.yaml").read_text()
MANIFEST = yaml.safe_load(MANIFEST_TEXT)
ENV_EXAMPLE = (DEPLOY / ".env.example").read_text()
COMPOSE_TEXT = (DEPLOY / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
UNIT_TEXT = (DEPLOY / "briefbot.service").read_text()
VENV_BIN = Path(sys.executable).parent

# PRODUCT.md, "The contract": environment variables, `briefbot` commands with
# the flags it names, the HTTP-mode port and path.
CONTRACT_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "BRIEFBOT_CONFIG",
    "BRIEFBOT_DATA",
)
CONTRACT_GLOBAL_FLAGS = {"--config", "--data-dir", "-v", "--verbose", "--version"}
CONTRACT_COMMANDS: dict[str, set[str]] = {
    "run": {"--port", "--host"},
    "poll": {"--feed", "--due-only"},
    "digest": {"--channel", "--dry-run", "--json"},
    "search": {"--json", "--csv"},
    "latest": {"--json", "--csv"},
    "status": set(),
    "console": set(),
    "demo": set(),
    "check-config": {"--json"},
    # Not in the product contract: briefbot's own, for the container's health check.
    "health": set(),
}
HTTP_PORT = 3000
HTTP_PATH = "/slack/events"
# Issue 5, "/brief sub-commands".
# Every sub-command /brief answers (the dispatcher's table is the one list).
BRIEF_SUBCOMMANDS = set(HANDLERS)


# -- parsing helpers -----------------------------------------------------------


def read_dockerfile(path: Path) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, one list per stage: (INSTRUCTION, arguments).

    Continuation lines are joined and comment lines inside them dropped, as
    Docker does (https://docs.docker.com/reference/dockerfile/#format).
    """
    stages: list[list[tuple[str, str]]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, arguments = (pending + line).partition(" ")
        pending = ""
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(arguments.split())))
    return stages


STAGES = read_dockerfile(DEPLOY / "Dockerfile")
FINAL = STAGES[-1]


def instructions(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


def dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in instructions(stage, "ENV"):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def read_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit's sections as (key, value) lists: keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return sections


UNIT = read_unit(UNIT_TEXT)
SERVICE = UNIT["Service"]


def unit_value(key: str) -> str:
    values = [value for k, value in SERVICE if k == key]
    assert len(values) == 1, f"[Service] {key}= appears {len(values)} times"
    return values[0]


def unit_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in SERVICE:
        if key == "Environment":
            for pair in shlex.split(value):
                name, _, val = pair.partition("=")
                env[name] = val
    return env


ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example_assignments() -> dict[str, tuple[str, bool, int]]:
    """VARIABLE -> (value, active, line index) for `VAR=value` and `# VAR=value` lines."""
    found: dict[str, tuple[str, bool, int]] = {}
    for index, line in enumerate(ENV_EXAMPLE.splitlines()):
        match = ASSIGNMENT.match(line)
        if match:
            found[match.group(2)] = (match.group(3), match.group(1) is None, index)
    return found


def dockerignore_includes(patterns: list[str], path: str) -> bool:
    """Whether `path` is in the build context under these .dockerignore rules.

    The last matching rule wins; a rule matching a parent directory covers its
    contents; `!` re-includes; `**` matches any number of directories
    (https://docs.docker.com/build/concepts/context/#dockerignore-files).
    """
    parts = path.split("/")
    included = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        rule = pattern.lstrip("!").strip("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            anywhere = rule.startswith("**/") and fnmatchcase(parts[depth - 1], rule[3:])
            if anywhere or fnmatchcase(prefix, rule):
                included = negate
                break
    return included


DOCKERIGNORE = [
    line.strip()
    for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def guide_section(heading: str) -> str:
    """The text of one `#`/`##` section of docs/deploy.md, up to the next such heading."""
    match = re.search(rf"^(#+) {re.escape(heading)}\n(.*?)(?=^#{{1,2}} |\Z)", GUIDE, re.M | re.S)
    assert match, f"docs/deploy.md has no section {heading!r}"
    return match.group(2)


def fenced_blocks(text: str, language: str | None = None) -> list[str]:
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)
    return [body for lang, body in blocks if language is None or lang == language]


def documented_scopes() -> dict[str, str]:
    """scope -> reason, from the scope table in step 1 of the guide."""
    section = guide_section("1. Create the app from the manifest")
    rows = re.findall(r"^\| `([a-z.:_]+)` \| (.+?) \|$", section, re.M)
    return dict(rows)


# -- the Slack app manifest ----------------------------------------------------


def test_manifest_declares_the_brief_command_as_the_only_slash_command() -> None:
    commands = MANIFEST["features"]["slash_commands"]
    assert [c["command"] for c in commands] == ["/brief"]
    brief = commands[0]
    assert brief["usage_hint"] == "help | <question> | subscribe <topic> | latest | status"
    assert brief["should_escape"] is True
    assert brief["description"].strip()


def test_manifest_usage_hint_names_only_real_sub_commands() -> None:
    words = [
        word
        for part in MANIFEST["features"]["slash_commands"][0]["usage_hint"].split("|")
        for word in part.split()[:1]
        if not word.startswith("<")
    ]
    assert words, "the usage hint names sub-commands"
    assert set(words) <= BRIEF_SUBCOMMANDS


def test_manifest_names_the_app_and_bot_briefbot_within_slack_limits() -> None:
    assert MANIFEST["display_information"]["name"] == "briefbot"
    assert MANIFEST["features"]["bot_user"]["display_name"] == "briefbot"
    # Slack refuses a display_information.description over 140 characters.
    assert len(MANIFEST["display_information"]["description"]) <= 140


# Issue 15: the Home tab, direct messages, the assistant panel; nothing more.
MANIFEST_EVENTS = [
    "app_home_opened",
    "message.im",
    "assistant_thread_started",
    "assistant_thread_context_changed",
    "app_uninstalled",
    "tokens_revoked",
]


def test_manifest_uses_socket_mode_with_interactivity_and_only_the_events_answered() -> None:
    settings = MANIFEST["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["event_subscriptions"]["bot_events"] == MANIFEST_EVENTS
    assert "user_events" not in settings["event_subscriptions"]


def test_manifest_turns_on_the_home_tab_and_a_writable_messages_tab() -> None:
    home = MANIFEST["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False
    assert MANIFEST["features"]["assistant_view"]["assistant_description"].strip()


def test_manifest_http_mode_addresses_are_all_the_events_path() -> None:
    # Events and interactivity, commented out like the slash command's url.
    urls = re.findall(r"^\s*#\s*request_url:\s*(\S+)\s*$", MANIFEST_TEXT, re.M)
    assert urls == [f"https://YOUR-HOST{HTTP_PATH}"] * 2


def test_manifest_shows_the_http_mode_request_url_on_the_contract_path() -> None:
    urls = re.findall(r"^\s*#\s*url:\s*(\S+)\s*$", MANIFEST_TEXT, re.M)
    assert urls == [f"https://YOUR-HOST{HTTP_PATH}"]


def test_manifest_bot_scopes_are_exactly_the_ones_the_guide_lists() -> None:
    scopes = MANIFEST["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes)), "a scope is listed twice"
    assert set(scopes) == set(documented_scopes())
    assert "user" not in MANIFEST["oauth_config"]["scopes"], "briefbot needs no user token"


def test_manifest_leaves_out_chat_write_public_for_least_privilege() -> None:
    assert "chat:write.public" not in MANIFEST["oauth_config"]["scopes"]["bot"]
    assert "/invite @briefbot" in GUIDE


@pytest.mark.parametrize("scope", MANIFEST["oauth_config"]["scopes"]["bot"])
def test_each_scope_says_why_in_the_manifest_and_in_the_guide(scope: str) -> None:
    lines = MANIFEST_TEXT.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip() == f"- {scope}")
    above = index - 1
    # Scopes that share a reason sit under one comment.
    while lines[above].strip().startswith("- "):
        above -= 1
    assert lines[above].strip().startswith("#"), f"no comment above {scope}"
    assert len(documented_scopes()[scope]) > 10


# -- .env.example --------------------------------------------------------------


@pytest.mark.parametrize("variable", CONTRACT_VARIABLES)
def test_env_example_lists_each_contract_variable_with_a_comment(variable: str) -> None:
    assignments = env_example_assignments()
    assert variable in assignments, f"{variable} missing from deploy/.env.example"
    lines = ENV_EXAMPLE.splitlines()
    above = lines[assignments[variable][2] - 1]
    assert above.startswith("#") and not ASSIGNMENT.match(above), f"{variable}: no comment"


def test_env_example_placeholders_are_obviously_fake() -> None:
    assignments = env_example_assignments()
    real_token = re.compile(r"^(xox[a-z]-\d+-|xapp-\d-)")
    for name, (value, _, _) in assignments.items():
        assert not real_token.match(value), f"{name} looks like a real token"
        assert not re.search(r"[A-Za-z0-9]{20,}", value), f"{name} looks like a real secret"
        if name.endswith(("TOKEN", "SECRET")):
            assert "your" in value, f"{name}={value} is not an obvious placeholder"
    # Shaped like the real thing, so the admin knows which token goes where.
    assert assignments["SLACK_BOT_TOKEN"][0].startswith("xoxb-")
    assert assignments["SLACK_APP_TOKEN"][0].startswith("xapp-")


def test_env_example_leaves_the_data_and_config_paths_to_the_image_and_the_unit() -> None:
    # An active BRIEFBOT_DATA in the env file would override the image's /data,
    # and the data would land in the container instead of on the volume.
    assignments = env_example_assignments()
    assert not assignments["BRIEFBOT_DATA"][1]
    assert not assignments["BRIEFBOT_CONFIG"][1]


def test_env_example_lines_suit_both_docker_env_file_and_systemd() -> None:
    # systemd's EnvironmentFile keeps quotes and inline comments as part of the
    # value, so: no quotes, no spaces, no `export`, comments on their own lines.
    for line in ENV_EXAMPLE.splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s\"'#]*", line), line


def test_env_file_sourced_as_the_guide_says_sets_exactly_its_values(tmp_path: Path) -> None:
    assert "set -a; . deploy/.env; set +a" in GUIDE
    (tmp_path / "deploy").mkdir()
    shutil.copy(DEPLOY / ".env.example", tmp_path / "deploy" / ".env")
    shell = subprocess.run(
        ["sh", "-c", "set -a; . deploy/.env; set +a; env"],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=True,
    )
    seen = dict(line.split("=", 1) for line in shell.stdout.splitlines() if "=" in line)
    for name, (value, active, _) in env_example_assignments().items():
        assert seen.get(name) == (value if active else None), name


# -- Dockerfile ----------------------------------------------------------------


def test_every_stage_builds_on_python_3_11_slim() -> None:
    bases = [instructions(stage, "FROM")[0].split()[0] for stage in STAGES]
    assert bases and all(base == "python:3.11-slim" for base in bases)


def test_image_runs_as_the_non_root_user_it_creates() -> None:
    users = instructions(FINAL, "USER")
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid not in ("root", "0")
    created = " ".join(instructions(FINAL, "RUN"))
    assert re.search(rf"useradd .*--uid {uid}\b", created), f"uid {uid} is not created"
    assert uid == "10001"


def test_image_keeps_its_data_on_the_volume_it_declares() -> None:
    volumes = " ".join(instructions(FINAL, "VOLUME"))
    assert '"/data"' in volumes or volumes.split() == ["/data"]
    env = dockerfile_env(FINAL)
    assert env["BRIEFBOT_DATA"] == "/data"
    assert "chown briefbot:briefbot /data" in " ".join(instructions(FINAL, "RUN"))


def test_image_bakes_in_no_secret() -> None:
    for stage in STAGES:
        for instruction, arguments in stage:
            if instruction in ("ENV", "ARG"):
                assert not re.search(r"SLACK_\w*(TOKEN|SECRET)", arguments), arguments
            if instruction in ("COPY", "ADD"):
                assert ".env" not in arguments.split(), arguments


def test_image_runs_the_service_and_exposes_the_http_port() -> None:
    assert instructions(FINAL, "CMD") == ['["briefbot", "run", "--host", "0.0.0.0"]']
    assert instructions(FINAL, "EXPOSE") == [str(HTTP_PORT)]
    assert instructions(FINAL, "WORKDIR") == ["/app"]


def healthcheck_command() -> str:
    (healthcheck,) = instructions(FINAL, "HEALTHCHECK")
    _, _, command = healthcheck.partition(" CMD ")
    assert command, f"HEALTHCHECK has no CMD: {healthcheck}"
    return command


@pytest.mark.parametrize(
    ("feeds", "service", "healthy", "reason"),
    [
        pytest.param("shipped", "beating", True, "slack: ok", id="service-working"),
        pytest.param("shipped", "stale", False, "last heartbeat", id="service-stopped"),
        pytest.param("shipped", "slack-down", False, "slack: not working", id="slack-down"),
        pytest.param("shipped", None, False, "no data directory", id="never-started"),
        pytest.param(
            "feeds:\n  - id: x\n    intervall: 5m\n", None, False, "feeds.yaml", id="broken"
        ),
        pytest.param(None, None, False, "feeds.yaml", id="feeds-yaml-not-mounted"),
    ],
)
def test_health_check_passes_only_while_the_service_works(
    tmp_path: Path, feeds: str | None, service: str | None, healthy: bool, reason: str
) -> None:
    config = tmp_path / "config" / "feeds.yaml"
    config.parent.mkdir()
    if feeds == "shipped":
        shutil.copy(ROOT / "feeds.yaml", config)
    elif feeds is not None:
        config.write_text(feeds)
    data = tmp_path / "data"
    if service is not None:
        write_service_traces(data, service)
    before = sorted(p.name for p in data.iterdir()) if data.exists() else None
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "BRIEFBOT_CONFIG": str(config),
        "BRIEFBOT_DATA": str(data),
    }
    # Docker runs a HEALTHCHECK CMD string with /bin/sh -c.
    result = subprocess.run(
        ["sh", "-c", healthcheck_command()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode == 0) is healthy, result.stderr
    if not healthy:  # the reason shows in `docker inspect` (stdout goes to /dev/null there)
        assert reason in result.stderr, result.stderr
    after = sorted(p.name for p in data.iterdir()) if data.exists() else None
    assert after == before, "the health check must not touch the data"


def write_service_traces(data: Path, service: str) -> None:
    """What a `briefbot run` leaves: a heartbeat (fresh or old) and a feed's recent poll."""
    now = datetime.now(UTC)
    beat_at = now - timedelta(minutes=10) if service == "stale" else now
    with TinyStore.open(data) as store:
        with store.transaction() as tx:
            tx.feed_states.put(FeedState("fr-bis", last_attempt=now, last_success=now))
        store.beat(
            Heartbeat(
                at=beat_at,
                pid=4242,
                slack_mode="socket",
                slack_ok=service != "slack-down",
                slack_checked_at=beat_at,
                slack_detail="the Socket Mode connection is down (reconnecting)",
            )
        )


def test_build_copies_only_context_the_dockerignore_lets_through() -> None:
    for stage in STAGES:
        for arguments in instructions(stage, "COPY"):
            if arguments.startswith("--from"):
                continue
            *sources, _ = arguments.split()
            for source in sources:
                assert dockerignore_includes(DOCKERIGNORE, source.rstrip("/")), source


@pytest.mark.parametrize(
    "path",
    [".env", "deploy/.env", "data/items-2026-01.json", ".venv/bin/python", ".git/config"],
)
def test_build_context_leaves_out_secrets_data_and_virtualenvs(path: str) -> None:
    assert not dockerignore_includes(DOCKERIGNORE, path)


def test_build_stage_copies_a_complete_package_source(tmp_path: Path) -> None:
    # Replays the build stage's COPY lines into a directory and checks that
    # pip has what it needs: pyproject's readme and packages, and symlinks
    # (bot/templates, bot/default_feeds.yaml) that resolve inside the copy.
    build = STAGES[0]
    source_root = tmp_path / "src"
    source_root.mkdir()
    for arguments in instructions(build, "COPY"):
        *sources, destination = arguments.split()
        target = source_root / destination
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():  # COPY dir/ dest/ copies the directory's contents
                shutil.copytree(
                    origin,
                    target,
                    symlinks=True,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            else:  # COPY a b ./ puts each file into the destination directory
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(origin, target / origin.name, follow_symlinks=False)
    project = tomllib.loads((source_root / "pyproject.toml").read_text())
    assert (source_root / project["project"]["readme"]).is_file()
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    wanted = setuptools.find_packages(ROOT, include=include)
    assert "bot.store.tinydb" in wanted
    assert setuptools.find_packages(source_root, include=include) == wanted
    for link in source_root.rglob("*"):
        if link.is_symlink():
            resolved = link.resolve()
            assert resolved.exists(), f"{link.relative_to(source_root)} points outside the copy"
            assert resolved.is_relative_to(source_root.resolve())


def test_time_zones_come_from_the_tzdata_dependency_the_image_relies_on() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert any(dep.startswith("tzdata") for dep in project["project"]["dependencies"])
    assert "zoneinfo.ZoneInfo(" in " ".join(instructions(FINAL, "RUN"))


# -- docker-compose.yml --------------------------------------------------------


def compose_service() -> dict[str, Any]:
    services = COMPOSE["services"]
    assert list(services) == ["briefbot"]
    service: dict[str, Any] = services["briefbot"]
    return service


def compose_mounts() -> dict[str, tuple[str, str]]:
    """target -> (source, mode) from the short volume syntax."""
    mounts = {}
    for entry in compose_service()["volumes"]:
        source, target, *mode = entry.split(":")
        mounts[target] = (source, mode[0] if mode else "rw")
    return mounts


def test_compose_builds_the_deploy_dockerfile_from_the_repository_root() -> None:
    build = compose_service()["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_compose_keeps_data_on_a_named_volume_at_the_images_data_dir() -> None:
    mounts = compose_mounts()
    source, mode = mounts[dockerfile_env(FINAL)["BRIEFBOT_DATA"]]
    assert source in COMPOSE["volumes"], "the data volume is a declared named volume"
    assert mode == "rw"


def test_compose_mounts_feeds_yaml_read_only_where_the_image_looks() -> None:
    source, mode = compose_mounts()[dockerfile_env(FINAL)["BRIEFBOT_CONFIG"]]
    assert mode == "ro"
    assert source == "./feeds.yaml"
    assert "cp feeds.yaml deploy/feeds.yaml" in GUIDE


def test_compose_reads_secrets_from_the_env_file_and_restarts_unless_stopped() -> None:
    service = compose_service()
    assert service["env_file"] == ".env"
    assert (DEPLOY / ".env.example").is_file()
    assert "environment" not in service, "secrets belong in .env, not in the compose file"
    assert service["restart"] == "unless-stopped"


def test_compose_publishes_the_http_port_only_when_uncommented_and_only_locally() -> None:
    assert "ports" not in compose_service(), "Socket Mode needs no inbound port"
    published = re.findall(r'^\s*#\s*-\s*"([\d.]+):(\d+):(\d+)"', COMPOSE_TEXT, re.M)
    assert published == [("127.0.0.1", str(HTTP_PORT), str(HTTP_PORT))]


# -- systemd unit --------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("User", "briefbot"),
        ("EnvironmentFile", "/etc/briefbot/briefbot.env"),
        ("WorkingDirectory", "/var/lib/briefbot"),
        ("ExecStart", "/opt/briefbot/venv/bin/briefbot run"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/briefbot"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("UMask", "0077"),
    ],
)
def test_unit_sets(key: str, value: str) -> None:
    assert unit_value(key) == value


def test_unit_gives_a_bounded_time_for_a_clean_stop() -> None:
    match = re.fullmatch(r"(\d+)s", unit_value("TimeoutStopSec"))
    assert match and 5 <= int(match.group(1)) <= 120
    # Docker gets the same grace period.
    assert compose_service()["stop_grace_period"] == unit_value("TimeoutStopSec")


def test_unit_data_dir_is_its_only_writable_path_and_its_working_directory() -> None:
    data = unit_environment()["BRIEFBOT_DATA"]
    assert data == unit_value("WorkingDirectory") == unit_value("ReadWritePaths")
    assert unit_value("StateDirectory") == Path(data).name


def test_unit_does_not_restart_on_an_invalid_configuration() -> None:
    # `briefbot` exits 2 for an invalid feeds.yaml (bot/app/cli/shared.py): restarting
    # cannot fix that, so systemd stops instead of looping.
    from bot.app.cli.shared import EXIT_USAGE

    assert unit_value("RestartPreventExitStatus") == str(EXIT_USAGE)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart's binary exists: point it at this venv's.
    briefbot = VENV_BIN / "briefbot"
    assert briefbot.exists()
    unit = tmp_path / "briefbot.service"
    unit.write_text(UNIT_TEXT.replace("/opt/briefbot/venv/bin/briefbot", str(briefbot)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in result.stderr.splitlines()
        if re.search(r"Unknown|Invalid|Failed|not executable|ignoring", line)
    ]
    assert result.returncode == 0 and not complaints, result.stderr


# -- docs/deploy.md ------------------------------------------------------------


def test_guide_takes_five_numbered_steps_from_manifest_to_first_digest() -> None:
    steps = re.findall(r"^## (\d)\. (.+)$", GUIDE, re.M)
    assert [int(number) for number, _ in steps] == [1, 2, 3, 4, 5]
    assert "manifest" in steps[0][1].lower()
    assert "first digest arrives" in guide_section("5. Check it")


# The admin's own copies, made as the guide says, are not shipped files.
ADMIN_COPIES = {".env", "feeds.yaml"}


@pytest.mark.parametrize(
    "name",
    sorted(
        p.name
        for p in DEPLOY.iterdir()
        if p.name not in ADMIN_COPIES and not p.name.endswith(".dockerignore")
    ),
)
def test_guide_explains_each_deploy_file(name: str) -> None:
    assert f"deploy/{name}" in GUIDE


@pytest.mark.parametrize("variable", CONTRACT_VARIABLES)
def test_guide_names_each_environment_variable(variable: str) -> None:
    assert f"`{variable}`" in GUIDE


def test_guide_feeds_yaml_example_passes_check_config() -> None:
    (snippet,) = fenced_blocks(guide_section("3. Write feeds.yaml"), "yaml")
    shipped = yaml.safe_load((ROOT / "feeds.yaml").read_text())
    shipped.update(yaml.safe_load(snippet))
    config = parse_config_text(yaml.safe_dump(shipped, allow_unicode=True), "feeds.yaml", env={})
    (digest,) = config.digests
    assert (digest.channel, digest.timezone, digest.at.strftime("%H:%M")) == (
        "C0123456789",
        "Asia/Tokyo",
        "08:30",
    )
    assert config.admins == ("U0123456789",)


def briefbot_command_lines() -> list[tuple[str, list[str]]]:
    """Every `briefbot ...` invocation in the guide and the deploy files: (where, argv)."""
    fragments: list[tuple[str, str]] = []
    for block in fenced_blocks(GUIDE, "sh"):
        fragments += [("docs/deploy.md", line) for line in block.splitlines()]
    # An inline `briefbot` alone names the user or the app, not a command.
    spans = re.findall(r"`(briefbot [^`\n]+)`", GUIDE)
    fragments += [("docs/deploy.md", span) for span in spans]
    fragments += [("briefbot.service", v) for k, v in SERVICE if k.startswith("Exec")]
    fragments += [("Dockerfile HEALTHCHECK", healthcheck_command())]
    commands = []
    for where, fragment in fragments:
        for segment in re.split(r"&&|\|\||[;|>]", fragment.split(" #")[0]):
            try:
                words = shlex.split(segment)
            except ValueError:
                continue
            while words and (words[0] == "sudo" or re.match(r"[A-Z_]+=", words[0])):
                words.pop(0)
            if words and (words[0] == "briefbot" or words[0].endswith("/bin/briefbot")):
                commands.append((where, words[1:]))
    return commands


def test_guide_runs_only_contract_commands_with_contract_flags() -> None:
    commands = briefbot_command_lines()
    assert len(commands) >= 5, commands
    parser = build_parser()
    choices = set(next(a for a in parser._actions if a.dest == "command").choices or ())
    for where, argv in commands:
        words = list(argv)
        while words and words[0] in CONTRACT_GLOBAL_FLAGS:
            flag = words.pop(0)
            if flag in ("--config", "--data-dir"):
                words.pop(0)
        assert words, f"{where}: `briefbot {' '.join(argv)}` names no command"
        command = words[0]
        assert command in CONTRACT_COMMANDS, f"{where}: unknown command {command}"
        if command in choices:
            try:
                parser.parse_args(argv)
            except SystemExit:
                pytest.fail(f"{where}: `briefbot {' '.join(argv)}` is refused by the CLI")
        else:
            flags = {w.split("=")[0] for w in words[1:] if w.startswith("-")}
            assert flags <= CONTRACT_COMMANDS[command], f"{where}: {argv}"


def test_guide_mentions_only_real_brief_sub_commands() -> None:
    used = set(re.findall(r"/brief ([a-z]+)", GUIDE))
    assert {"status", "digest"} <= used
    assert used <= BRIEF_SUBCOMMANDS, used - BRIEF_SUBCOMMANDS


def test_guide_proxy_snippets_forward_the_contract_path_to_the_contract_port() -> None:
    section = guide_section("HTTP mode behind a reverse proxy")
    (nginx,) = fenced_blocks(section, "nginx")
    assert f"location = {HTTP_PATH} {{" in nginx
    assert f"proxy_pass http://127.0.0.1:{HTTP_PORT};" in nginx
    assert re.search(r"proxy_read_timeout [1-9]s;", nginx), "a short read timeout"
    (caddy,) = fenced_blocks(section, "caddy")
    assert f"handle {HTTP_PATH} {{" in caddy
    assert f"reverse_proxy 127.0.0.1:{HTTP_PORT}" in caddy
    assert "SLACK_SIGNING_SECRET" in section and f"--port {HTTP_PORT}" in section
