"""deploy/docker-compose.scale.yml agrees with docs/scale-out.md and with the code.

Docker cannot run here, so the compose file is parsed and checked for what the
guide promises: the services its table names, each replica running a command
the real CLI accepts on the HTTP port, a data volume of its own, secrets only
in environment files that git ignores, and a proxy that forwards exactly
Slack's paths to every replica and checks them on the real health path.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from typing import Any

import pytest
import yaml

from bot.app.cli.main import build_parser
from bot.slack.http import EVENTS_PATH, HEALTH_PATH
from tests.support import paths

ROOT = paths.ROOT
DEPLOY = ROOT / "deploy"
GUIDE = (ROOT / "docs" / "scale-out.md").read_text()
COMPOSE_TEXT = (DEPLOY / "docker-compose.scale.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
HTTP_PORT = 3000
# Slack's requests (commands, events, interactivity) and the OAuth flow's two pages.
SLACK_PATHS = {EVENTS_PATH, "/slack/install", "/slack/oauth_redirect"}


def guide_services() -> list[str]:
    """The service names in the first column of the guide's `| service |` table."""
    table = re.search(
        r"^\| service \| what it does \|\n\| --- \| --- \|\n((?:\|.*\n)+)", GUIDE, re.M
    )
    assert table, "docs/scale-out.md has a table of the compose file's services"
    names: list[str] = []
    for row in table.group(1).splitlines():
        names += re.findall(r"`([a-z0-9-]+)`", row.split("|")[1])
    return names


def replicas() -> list[str]:
    return sorted(name for name in SERVICES if name.startswith("briefbot-"))


def caddyfile() -> str:
    content: str = COMPOSE["configs"]["caddyfile"]["content"]
    return content


def test_compose_names_exactly_the_services_the_guide_describes() -> None:
    assert guide_services() == list(SERVICES)
    assert len(replicas()) >= 2


def test_replicas_and_migrate_run_commands_the_cli_accepts() -> None:
    parser = build_parser()
    for name in [*replicas(), "migrate"]:
        command = SERVICES[name]["command"]
        assert command[0] == "briefbot", name
        args = parser.parse_args(command[1:])
        if name != "migrate":
            assert (args.command, args.host, args.port) == ("run", "0.0.0.0", HTTP_PORT)
    assert parser.parse_args(SERVICES["migrate"]["command"][1:]).command == "migrate"


def test_replicas_start_after_the_migration_from_the_image_it_builds() -> None:
    build = SERVICES["migrate"]["build"]
    assert (DEPLOY / build["context"]).resolve() == ROOT
    assert (ROOT / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in replicas():
        service = SERVICES[name]
        assert (service["image"], service["build"]) == (
            SERVICES["migrate"]["image"],
            SERVICES["migrate"]["build"],
        )
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["restart"] == "unless-stopped"


def test_each_replica_has_a_data_volume_of_its_own_and_the_same_feeds_yaml() -> None:
    data_volumes = []
    for name in replicas():
        mounts = dict(reversed(entry.split(":", 1)) for entry in SERVICES[name]["volumes"])
        data_volumes.append(mounts["/data"])
        assert mounts["/config/feeds.yaml:ro"] == "./feeds.yaml"
    assert len(set(data_volumes)) == len(data_volumes), "replicas must not share /data"
    declared = set(COMPOSE["volumes"])
    assert set(data_volumes) <= declared
    assert SERVICES["postgres"]["volumes"][0].split(":")[0] in declared


def test_secrets_come_from_environment_files_that_git_ignores() -> None:
    files = set()
    for name, service in SERVICES.items():
        for key in service.get("environment", {}):
            assert not re.search(r"TOKEN|SECRET|PASSWORD|DATABASE_URL", key), (name, key)
        if "env_file" in service:
            files.add(service["env_file"])
    assert files == {".env.scale", ".env.db"}
    ignored = subprocess.run(
        ["git", "check-ignore", *(f"deploy/{f}" for f in sorted(files))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == [f"deploy/{f}" for f in sorted(files)]
    assert "ports" not in SERVICES["postgres"], "the database is not published"


def test_the_proxy_forwards_only_slacks_paths_to_every_replica_and_checks_their_health() -> None:
    text = caddyfile()
    (matcher,) = re.findall(r"@slack path (.+)", text)
    assert set(matcher.split()) == SLACK_PATHS
    (upstreams,) = re.findall(r"reverse_proxy (.+) \{", text)
    assert upstreams.split() == [f"{name}:{HTTP_PORT}" for name in replicas()]
    assert f"health_uri {HEALTH_PATH}" in text
    assert re.search(r"handle \{\s*respond 404\s*\}", text), "everything else is refused"
    # The site address is the public host, from the environment (`$$` is compose's `$`).
    assert text.splitlines()[0] == "{$$BRIEFBOT_HOST} {"
    assert SERVICES["proxy"]["environment"]["BRIEFBOT_HOST"].startswith("${BRIEFBOT_HOST:?")


@pytest.mark.parametrize("path", sorted(SLACK_PATHS))
def test_the_guide_gives_each_slack_url_on_the_public_host(path: str) -> None:
    assert f"https://HOST{path}" in GUIDE


def test_the_guides_briefbot_commands_are_accepted_by_the_cli() -> None:
    parser = build_parser()
    blocks = re.findall(r"^\s*```sh\n(.*?)^\s*```", GUIDE, re.M | re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line.split(" #")[0]) if line.strip() else []
        while words and re.match(r"[A-Z_]+=", words[0]):
            words.pop(0)
        if words[:1] == ["briefbot"]:
            commands.append(words[1:])
    commands += [span.split()[1:] for span in re.findall(r"`(briefbot [^`\n]+)`", GUIDE)]
    assert ["migrate", "--from-data-dir", "/var/lib/briefbot"] in commands
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"`briefbot {' '.join(argv)}` is refused by the CLI")
