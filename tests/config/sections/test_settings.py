"""The settings: section (bot/config/sections/settings.py)."""

from __future__ import annotations

import pytest

from tests.config.feedsyaml import parse, problems

SETTING_CASES = [
    ("connect_timeout: 2", "connect_timeout", 2.0),
    ("connect_timeout: 2.5", "connect_timeout", 2.5),
    ("read_timeout: 1m", "read_timeout", 60.0),
    ("total_timeout: 1m30s", "total_timeout", 90.0),
    ("max_bytes: 512KB", "max_bytes", 512 * 1024),
    ("max_bytes: 10 MB", "max_bytes", 10 * 1024 * 1024),
    ("max_bytes: 2048", "max_bytes", 2048),
    ("backoff_base_seconds: 10m", "backoff_base_seconds", 600),
    ("backoff_max_seconds: 3600", "backoff_max_seconds", 3600),
    ("retention_days: 30", "retention_days", 30),
    ("data_dir: /var/lib/briefbot", "data_dir", "/var/lib/briefbot"),
    ("templates_dir: ./my-templates", "templates_dir", "./my-templates"),
    ("templates_dir: null", "templates_dir", None),
    ("user_agent: acme-briefbot/1.0", "user_agent", "acme-briefbot/1.0"),
    ("parse_workers: auto", "parse_workers", "auto"),
    ("parse_workers: 0", "parse_workers", 0),
    ("parse_workers: 4", "parse_workers", 4),
    ("parse_timeout: 45s", "parse_timeout", 45.0),
    ("parse_timeout: 0.5", "parse_timeout", 0.5),
    (
        "federal_register_api: http://fr-mirror.example/api/v1",
        "federal_register_api",
        "http://fr-mirror.example/api/v1/",
    ),
]


@pytest.mark.parametrize(
    ("yaml_value", "attribute", "expected"), SETTING_CASES, ids=[c[0] for c in SETTING_CASES]
)
def test_settings_accept_numbers_durations_and_sizes(
    yaml_value: str, attribute: str, expected: float | str | None
) -> None:
    config = parse(f"settings:\n  {yaml_value}\n")
    assert getattr(config.settings, attribute) == expected
    assert type(getattr(config.settings, attribute)) is type(expected)


ERROR_CASES = [
    pytest.param(
        "settings:\n  retention: 90\n",
        ["feeds.yaml:2: settings: unknown key 'retention' (did you mean 'retention_days'?)"],
        id="settings-unknown-key",
    ),
    pytest.param(
        """\
        settings:
          connect_timeout: 0
          read_timeout: soon
          max_bytes: 10 parsecs
          max_redirects: 100
          retention_days: "180"
          summary_max_chars: 1e3
        """,
        [
            "feeds.yaml:2: settings: connect_timeout must be more than 0 and at most 300 "
            "seconds, not 0",
            "feeds.yaml:3: settings: read_timeout 'soon' is not a duration such as 10s or 2m",
            "feeds.yaml:4: settings: max_bytes '10 parsecs' is not a size such as 512KB or 10MB",
            "feeds.yaml:5: settings: max_redirects must be at least 0 and at most 20, not 100",
            "feeds.yaml:6: settings: retention_days must be a whole number, not the quoted "
            "string '180'",
            "feeds.yaml:7: settings: summary_max_chars must be a whole number, not '1e3'",
        ],
        id="settings-values",
    ),
    pytest.param(
        """\
        settings:
          parse_workers: many
          parse_timeout: 0
        """,
        [
            "feeds.yaml:2: settings: parse_workers must be auto or a whole number from 0 to 64, "
            "not 'many'",
            "feeds.yaml:3: settings: parse_timeout must be more than 0 and at most 600 seconds, "
            "not 0",
        ],
        id="parse-settings",
    ),
    pytest.param(
        """\
        settings:
          connect_timeout: 30
          total_timeout: 20
          concurrency: 2
          per_host_concurrency: 4
          backoff_base_seconds: 1h
          backoff_max_seconds: 10m
        """,
        [
            "feeds.yaml:3: settings: total_timeout (20s) is shorter than connect_timeout (30s)",
            "feeds.yaml:5: settings: per_host_concurrency (4) is more than concurrency (2)",
            "feeds.yaml:7: settings: backoff_max_seconds (10m) is shorter than "
            "backoff_base_seconds (1h)",
        ],
        id="settings-that-contradict-each-other",
    ),
    pytest.param(
        'settings:\n  user_agent: "briefbot\\r\\nX-Injected: 1"\n',
        ["feeds.yaml:2: settings: user_agent must be one line of printable text"],
        id="user-agent-header-injection",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected
