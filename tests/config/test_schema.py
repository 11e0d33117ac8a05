"""feeds.yaml validation, environment overrides, and the redacted description."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import time
from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.describe import describe_config
from bot.config.model import (
    Config,
    ConfigError,
    ConfigProblem,
    DigestConfig,
    SlackSecrets,
    TopicConfig,
)
from bot.config.redact import redact_url
from bot.config.schema import EMBEDDED_PATH, load_config, parse_config_text
from bot.config.units import format_days, format_duration, parse_days, parse_duration, parse_size
from bot.models import FeedConfig, Settings
from tests.support import paths
from tests.support.secretscan import (
    APP_TOKEN,
    BOT_TOKEN,
    FEED_PASSWORD,
    FEED_TOKEN,
    SIGNING_SECRET,
)

ROOT = paths.ROOT
BIS_URL = (
    "https://www.federalregister.gov/api/v1/documents.rss"
    "?conditions%5Bagencies%5D%5B%5D=industry-and-security-bureau"
)
# Distinctive fake secrets (tests/support/secretscan.py): any of these in output is a leak.
URL_PASSWORD = FEED_PASSWORD
URL_TOKEN = FEED_TOKEN


def parse(text: str, env: dict[str, str] | None = None) -> Config:
    return parse_config_text(dedent(text), "feeds.yaml", env={} if env is None else env)


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, env)
    return str(info.value).splitlines()


# -- what a valid file gives ----------------------------------------------------


def test_the_product_example_reads_into_the_documented_objects():
    config = parse(
        f"""\
        settings:
          retention_days: 90
        feeds:
          - id: fr-bis
            name: "Federal Register: Bureau of Industry and Security"
            url: {BIS_URL}
            interval: 30m
            tags: [US, export-controls]
        topics:
          - id: entity-list
            query: '"entity list"'
            description: BIS Entity List additions, revisions and removals
            priority: 10
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: Asia/Tokyo
            days: mon-fri
            topics: [entity-list]
        admins: [U0123456789]
        ops_channel: C0987654321
        """
    )
    assert config.settings == Settings(retention_days=90)
    assert config.feeds == (
        FeedConfig(
            id="fr-bis",
            url=BIS_URL,
            name="Federal Register: Bureau of Industry and Security",
            tags=("us", "export-controls"),
            interval_seconds=1800,
        ),
    )
    assert config.topics == (
        TopicConfig(
            "entity-list",
            '"entity list"',
            "BIS Entity List additions, revisions and removals",
            10,
        ),
    )
    assert config.digests == (
        DigestConfig(
            channel="C0123456789",
            at=time(8, 30),
            timezone="Asia/Tokyo",
            days=frozenset({0, 1, 2, 3, 4}),
            topics=("entity-list",),
        ),
    )
    digest = config.digests[0]
    assert (digest.feeds, digest.max_items, digest.thread, digest.when_empty) == (
        (),
        20,
        True,
        "skip",
    )
    assert config.admins == ("U0123456789",)
    assert config.ops_channel == "C0987654321"
    assert config.feed("fr-bis") is config.feeds[0]
    assert config.feed("nope") is None
    assert config.topic("entity-list") is config.topics[0]
    assert config.digest("C0123456789") is digest


@pytest.mark.parametrize(
    "text",
    ["", "# nothing to watch yet\n", "feeds: []\n", "feeds:\n", "settings:\nfeeds: []\nadmins:\n"],
    ids=["empty-file", "comment-only", "empty-feed-list", "null-feeds", "null-sections"],
)
def test_a_config_with_nothing_to_watch_is_valid(text):
    config = parse(text)
    assert (config.feeds, config.topics, config.digests, config.admins) == ((), (), (), ())
    assert config.settings == Settings()
    assert config.path == "feeds.yaml"


def test_disabled_feeds_are_kept_but_not_enabled():
    config = parse(
        """\
        feeds:
          - id: on
            url: https://example.org/on.xml
          - id: off
            url: https://example.org/off.xml
            enabled: false
        """
    )
    assert [f.id for f in config.feeds] == ["on", "off"]
    assert [f.id for f in config.enabled_feeds] == ["on"]


@pytest.mark.parametrize(
    ("line", "field", "expected"),
    [
        # YAML 1.1 would read 18:30 as the base-60 integer 1110.
        ("at: 18:30", "at", time(18, 30)),
        ("at: 8:05", "at", time(8, 5)),
        # ... `no` as False, 1.10 as the float 1.1, 0755 as octal.
        ("name: no", "name", "no"),
        ("name: 1.10", "name", "1.10"),
        ("name: 0755", "name", "0755"),
    ],
    ids=["at-unquoted", "at-one-digit-hour", "name-no", "name-decimal", "name-octal-looking"],
)
def test_text_fields_keep_what_was_written_not_yaml_1_1_guesses(line, field, expected):
    config = parse(
        f"""\
        feeds:
          - id: a
            url: https://example.org/a.xml
            {line if field == "name" else "name: A"}
        digests:
          - channel: C0123456789
            {line if field == "at" else "at: '07:00'"}
            timezone: UTC
        """
    )
    value = config.digests[0].at if field == "at" else config.feeds[0].name
    assert value == expected


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
]


@pytest.mark.parametrize(
    ("yaml_value", "attribute", "expected"), SETTING_CASES, ids=[c[0] for c in SETTING_CASES]
)
def test_settings_accept_numbers_durations_and_sizes(yaml_value, attribute, expected):
    config = parse(f"settings:\n  {yaml_value}\n")
    assert getattr(config.settings, attribute) == expected
    assert type(getattr(config.settings, attribute)) is type(expected)


def test_a_yaml_merge_key_shares_defaults_and_explicit_keys_win():
    config = parse(
        """\
        feeds:
          - &fr
            id: fr-bis
            url: https://example.org/bis.xml
            interval: 2h
            tags: [us]
          - <<: *fr
            id: fr-ita
            url: https://example.org/ita.xml
            interval: 1h
        """
    )
    ita = config.feed("fr-ita")
    assert ita is not None
    assert (ita.url, ita.interval_seconds, ita.tags) == (
        "https://example.org/ita.xml",
        3600,
        ("us",),
    )


# -- every kind of error, with file, line and field ---------------------------

ERROR_CASES = [
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: "https://example.org/a.xml
        """,
        [
            "feeds.yaml:4: invalid YAML: found unexpected end of stream while scanning a "
            "quoted scalar that starts at line 3 (column 1)"
        ],
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        "feeds:\n\t- id: fr-bis\n",
        [
            "feeds.yaml:2: invalid YAML: found character '\\t' that cannot start any token "
            "while scanning for the next token (column 1); indent YAML with spaces, not tabs"
        ],
        id="yaml-tab-indent",
    ),
    pytest.param(
        "feeds: []\n---\nfeeds: []\n",
        [
            "feeds.yaml:2: invalid YAML: expected a single document in the stream, "
            "but found another document (column 1)"
        ],
        id="yaml-two-documents",
    ),
    pytest.param(
        "- id: fr-bis\n  url: https://example.org/a.xml\n",
        [
            "feeds.yaml:1: the top level must be a mapping with the keys settings, feeds, "
            "topics, digests, admins, ops_channel, not a list"
        ],
        id="top-level-list",
    ),
    pytest.param(
        "feed:\n  - id: fr-bis\n",
        ["feeds.yaml:1: unknown key 'feed' (did you mean 'feeds'?)"],
        id="top-level-unknown-key",
    ),
    pytest.param(
        "feeds: []\nslack_token: abc\n",
        [
            "feeds.yaml:2: unknown key 'slack_token'; expected one of: settings, feeds, "
            "topics, digests, admins, ops_channel"
        ],
        id="top-level-unknown-key-no-hint",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            intervall: 15m
        """,
        ["feeds.yaml:4: feed 'fr-bis': unknown key 'intervall' (did you mean 'interval'?)"],
        id="feed-unknown-key",
    ),
    pytest.param(
        "settings:\n  retention: 90\n",
        ["feeds.yaml:2: settings: unknown key 'retention' (did you mean 'retention_days'?)"],
        id="settings-unknown-key",
    ),
    pytest.param(
        """\
        topics:
          - id: chips
            qeury: chip
        """,
        [
            "feeds.yaml:2: topic 'chips': query is required",
            "feeds.yaml:3: topic 'chips': unknown key 'qeury' (did you mean 'query'?)",
        ],
        id="topic-unknown-key",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            time_zone: Asia/Tokyo
        """,
        ["feeds.yaml:5: digest 'C0123456789': unknown key 'time_zone' (did you mean 'timezone'?)"],
        id="digest-unknown-key",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            url: https://example.org/b.xml
        """,
        [
            "feeds.yaml:4: feed 'fr-bis': duplicate key 'url' (first at line 3); "
            "YAML would silently keep only the last one"
        ],
        id="duplicate-key-in-feed",
    ),
    pytest.param(
        "feeds: []\nadmins: []\nfeeds: []\n",
        [
            "feeds.yaml:3: duplicate key 'feeds' (first at line 1); "
            "YAML would silently keep only the last one"
        ],
        id="duplicate-top-level-key",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
          - id: fr-bis
            url: https://example.org/b.xml
        """,
        ["feeds.yaml:4: feed 'fr-bis': duplicate id (first defined at line 2)"],
        id="duplicate-feed-id",
    ),
    pytest.param(
        """\
        topics:
          - id: chips
            query: chip
          - id: chips
            query: wafer
        """,
        ["feeds.yaml:4: topic 'chips': duplicate id (first defined at line 2)"],
        id="duplicate-topic-id",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
          - channel: C0123456789
            at: "17:00"
            timezone: UTC
        """,
        [
            "feeds.yaml:5: digest 'C0123456789': duplicate channel (first digest at line 2); "
            "list all of a channel's topics in one digest"
        ],
        id="duplicate-digest-channel",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            tags: us
        """,
        [
            "feeds.yaml:4: feed 'fr-bis': tags must be a list such as [us, export-controls], "
            "not 'us' (write [us] for a list of one)"
        ],
        id="string-where-list-expected",
    ),
    pytest.param(
        "feeds:\n  id: fr-bis\n",
        ["feeds.yaml:2: feeds must be a list such as [{id: ..., url: ...}], not a mapping"],
        id="feeds-is-a-mapping",
    ),
    pytest.param(
        "feeds:\n  - https://example.org/a.xml\n",
        [
            "feeds.yaml:2: feed #1: must be a mapping with id and url, not 'https://example.org/a.xml'"
        ],
        id="feed-is-a-string",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            enabled: yes
        """,
        ["feeds.yaml:4: feed 'fr-bis': enabled must be true or false, not 'yes'"],
        id="yes-is-not-a-boolean",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            allow_private: "true"
        """,
        [
            "feeds.yaml:4: feed 'fr-bis': allow_private must be true or false, not the quoted "
            "string 'true'"
        ],
        id="quoted-true-is-not-a-boolean",
    ),
    pytest.param(
        # The issue's own example, at its own line number.
        """\
        # Federal Register feeds
        #
        # (a comment block, so that the error lands on line 14)
        #
        #
        #
        #
        #
        #
        feeds:
          - id: fr-bis
            name: BIS
            url: https://example.org/a.xml
            interval: 15 minutes
        """,
        ["feeds.yaml:14: feed 'fr-bis': interval '15 minutes' is not a duration such as 15m or 2h"],
        id="bad-duration",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            interval: 30s
        """,
        ["feeds.yaml:4: feed 'fr-bis': interval '30s' is below the minimum of 1m (60 seconds)"],
        id="interval-below-minimum",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            interval: 30
        """,
        [
            "feeds.yaml:4: feed 'fr-bis': interval 30 (seconds) is below the minimum of 1m "
            "(60 seconds); write 30m for minutes"
        ],
        id="interval-bare-number-below-minimum",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            interval: 30d
        """,
        ["feeds.yaml:4: feed 'fr-bis': interval '30d' is above the maximum of 7d"],
        id="interval-above-maximum",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: ftp://example.org/a.xml
        """,
        [
            "feeds.yaml:3: feed 'fr-bis': url 'ftp://example.org/a.xml' must start with "
            "http:// or https://, not 'ftp:'"
        ],
        id="url-ftp",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: www.example.org/a.xml
        """,
        [
            "feeds.yaml:3: feed 'fr-bis': url 'www.example.org/a.xml' must start with "
            "http:// or https://"
        ],
        id="url-without-scheme",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https:///a.xml
        """,
        ["feeds.yaml:3: feed 'fr-bis': url 'https:///a.xml' has no host name"],
        id="url-without-host",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org:99999/a.xml
        """,
        ["feeds.yaml:3: feed 'fr-bis': url 'https://example.org:99999/a.xml' is not a valid URL"],
        id="url-bad-port",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a feed.xml
        """,
        [
            "feeds.yaml:3: feed 'fr-bis': url 'https://example.org/a feed.xml' contains spaces "
            "or control characters (percent-encode a space as %20)"
        ],
        id="url-with-space",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: http://127.0.0.1:8000/a.xml
        """,
        [
            "feeds.yaml:3: feed 'fr-bis': url host 127.0.0.1 is a loopback address; a feed may "
            "reach loopback or private-network addresses only with allow_private: true"
        ],
        id="url-loopback-without-opt-in",
    ),
    pytest.param(
        """\
        feeds:
          - id: intranet
            url: http://[fd00::1]/a.xml
        """,
        [
            "feeds.yaml:3: feed 'intranet': url host fd00::1 is a private-network address; a "
            "feed may reach loopback or private-network addresses only with allow_private: true"
        ],
        id="url-ipv6-unique-local-without-opt-in",
    ),
    pytest.param(
        f"""\
        feeds:
          - id: fr-bis
            url: ftp://reader:{URL_PASSWORD}@example.org/a.xml
        """,
        [
            "feeds.yaml:3: feed 'fr-bis': url 'ftp://***@example.org/a.xml' must start with "
            "http:// or https://, not 'ftp:'"
        ],
        id="url-error-hides-credentials",
    ),
    pytest.param(
        """\
        feeds:
          - id: FR BIS
            url: https://example.org/a.xml
        """,
        [
            "feeds.yaml:2: feed #1: id 'FR BIS' must be lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 64 characters"
        ],
        id="id-bad-characters",
    ),
    pytest.param(
        """\
        feeds:
          - name: BIS
            url: https://example.org/a.xml
        """,
        ["feeds.yaml:2: feed #1: id is required"],
        id="id-missing",
    ),
    pytest.param(
        "feeds:\n  - id: fr-bis\n    name: BIS\n",
        ["feeds.yaml:2: feed 'fr-bis': url is required"],
        id="url-missing",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            tags: [us, export controls]
        """,
        [
            "feeds.yaml:4: feed 'fr-bis': tag 'export controls' must be one word without "
            "spaces, quotes, parentheses, commas or colons (used as tag:NAME)"
        ],
        id="tag-with-space",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: Asia/Tokio
        """,
        [
            "feeds.yaml:4: digest 'C0123456789': timezone 'Asia/Tokio' is not a known IANA "
            "time zone such as Asia/Tokyo or America/New_York (did you mean 'Asia/Tokyo'?)"
        ],
        id="unknown-time-zone",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: asia/tokyo
        """,
        [
            "feeds.yaml:4: digest 'C0123456789': timezone 'asia/tokyo' is not a known IANA "
            "time zone such as Asia/Tokyo or America/New_York (did you mean 'Asia/Tokyo'?)"
        ],
        id="time-zone-in-the-wrong-case",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: 25:00
            timezone: UTC
        """,
        [
            "feeds.yaml:3: digest 'C0123456789': at '25:00' is not a time of day such as "
            "08:30 (24-hour HH:MM)"
        ],
        id="at-25-00",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: 8am
            timezone: UTC
        """,
        [
            "feeds.yaml:3: digest 'C0123456789': at '8am' is not a time of day such as "
            "08:30 (24-hour HH:MM)"
        ],
        id="at-8am",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            timezone: UTC
        """,
        [
            "feeds.yaml:2: digest 'C0123456789': at is required (the local time to post, "
            "such as 08:30)"
        ],
        id="at-missing",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            days: mon-fry
        """,
        [
            "feeds.yaml:5: digest 'C0123456789': days 'mon-fry' is not a day list such as "
            "mon-fri, mon,wed,fri, daily or weekdays: 'fry' is not a day name such as mon "
            "or friday"
        ],
        id="days-misspelled",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            days: []
        """,
        [
            "feeds.yaml:5: digest 'C0123456789': days [] is not a day list such as mon-fri, "
            "mon,wed,fri, daily or weekdays: names no day, so the digest would never be sent"
        ],
        id="days-empty",
    ),
    pytest.param(
        """\
        topics:
          - id: entity-list
            query: '"entity list"'
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            topics: [entity-lists]
        """,
        [
            "feeds.yaml:8: digest 'C0123456789': names topic 'entity-lists', which is not "
            "defined (did you mean 'entity-list'?)"
        ],
        id="digest-unknown-topic",
    ),
    pytest.param(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            feeds: [fr-ofac]
        """,
        ["feeds.yaml:8: digest 'C0123456789': names feed 'fr-ofac', which is not defined"],
        id="digest-unknown-feed",
    ),
    pytest.param(
        """\
        topics:
          - id: entity-list
            query: '"entity list"'
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            topics: entity-list
        """,
        [
            "feeds.yaml:8: digest 'C0123456789': topics must be a list such as [entity-list], "
            "not 'entity-list' (write [entity-list] for a list of one)"
        ],
        id="digest-topics-string",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            max_items: 500
            when_empty: never
        """,
        [
            "feeds.yaml:5: digest 'C0123456789': max_items must be at least 1 and at most 200, "
            "not 500",
            "feeds.yaml:6: digest 'C0123456789': when_empty must be 'skip' or 'notice', "
            "not 'never'",
        ],
        id="digest-max-items-and-when-empty",
    ),
    pytest.param(
        """\
        digests:
          - channel: "#trade-policy"
            at: "08:30"
            timezone: UTC
        """,
        [
            "feeds.yaml:2: digest #1: channel '#trade-policy' is not a Slack channel id such as "
            "C0123456789 (a name can change, its id does not: copy it from the channel's "
            "details)"
        ],
        id="digest-channel-name-not-id",
    ),
    pytest.param(
        "admins: [U0123456789, alice]\nops_channel: ops\n",
        [
            "feeds.yaml:1: admins: admin 'alice' is not a Slack user id such as U0123456789",
            "feeds.yaml:2: ops_channel 'ops' is not a Slack channel id such as C0123456789",
        ],
        id="admins-and-ops-channel",
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
    pytest.param(
        "topics:\n  - id: chips\n    query: chip\n    priority: high\n",
        ["feeds.yaml:4: topic 'chips': priority must be a whole number, not 'high'"],
        id="topic-priority-not-a-number",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text, expected):
    assert problems(text) == expected


def test_every_problem_of_a_file_is_reported_in_line_order():
    found = problems(
        """\
        feeds:
          - id: fr-bis
            url: https://example.org/a.xml
            interval: soon
          - id: fr-ita
            url: gopher://example.org/
        topics:
          - id: chips
            query: chip
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: Mars/Olympus_Mons
            topics: [chip]
        unknown: 1
        """
    )
    assert [line.split(":", 2)[1] for line in found] == ["4", "6", "13", "14", "15"]
    assert "feed 'fr-bis': interval 'soon'" in found[0]
    assert "feed 'fr-ita': url 'gopher://example.org/'" in found[1]
    assert "timezone 'Mars/Olympus_Mons'" in found[2]
    assert "names topic 'chip', which is not defined (did you mean 'chips'?)" in found[3]
    assert "unknown key 'unknown'" in found[4]


def test_a_bad_topic_query_reports_the_query_languages_error():
    query = pytest.importorskip("bot.find.query")
    text = "topics:\n  - id: el\n    query: '\"entity list'\n"
    with pytest.raises(query.QueryError) as reason:
        query.parse_query('"entity list')
    assert problems(text) == [f"feeds.yaml:3: topic 'el': query '\"entity list': {reason.value}"]
    assert "quote" in str(reason.value)


def test_problem_without_a_line_prints_file_and_message():
    error = ConfigError(
        [ConfigProblem("x.yaml", None, "no such file"), ConfigProblem("x.yaml", 3, "bad")]
    )
    assert str(error) == "x.yaml: no such file\nx.yaml:3: bad"
    assert len(error.problems) == 2


# -- the grammars ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
     ("1h 30m", 5400), ("2H", 7200), ("1d2h3m4s", 93784), ("0m", 0)],
)  # fmt: skip
def test_parse_duration_reads_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "15", "15 minutes", "m", "1.5h", "30m1h", "1h1h", "-5m", "15min", "1w"]
)
def test_parse_duration_refuses_other_forms(text):
    with pytest.raises(ValueError, match="is not a duration such as 15m or 2h"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**8))
def test_format_duration_reads_back_as_the_same_seconds(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [("2048", 2048), ("512KB", 524288), ("512kb", 524288), ("10MB", 10485760),
     ("10 MiB", 10485760), ("1G", 1073741824), ("100B", 100)],
)  # fmt: skip
def test_parse_size_reads_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "1.5MB", "10 parsecs", "-1KB", "10TB"])
def test_parse_size_refuses_other_forms(text):
    with pytest.raises(ValueError, match="is not a size such as 512KB or 10MB"):
        parse_size(text)


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("daily", {0, 1, 2, 3, 4, 5, 6}),
        ("weekdays", {0, 1, 2, 3, 4}),
        ("weekends", {5, 6}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("mon,wed,fri", {0, 2, 4}),
        ("Mon, Wed", {0, 2}),
        ("fri-mon", {4, 5, 6, 0}),
        ("sun", {6}),
        (["monday", "Thursday"], {0, 3}),
        (["mon-wed", "sat"], {0, 1, 2, 5}),
    ],
    ids=str,
)
def test_parse_days_reads_the_documented_forms(spec, days):
    assert parse_days(spec) == frozenset(days)


def test_every_set_of_days_formats_to_a_spec_that_reads_back():
    for mask in range(1, 128):
        days = frozenset(d for d in range(7) if mask >> d & 1)
        assert parse_days(format_days(days)) == days
    assert format_days(frozenset(range(5))) == "mon-fri"
    assert format_days(frozenset({0, 2, 4})) == "mon,wed,fri"
    assert format_days(frozenset(range(7))) == "daily"


def test_days_given_as_a_yaml_list_of_names():
    config = parse(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: Europe/Berlin
            days: [mon, thu]
        """
    )
    assert config.digests[0].days == frozenset({0, 3})


# -- the shipped feeds.yaml -----------------------------------------------------


def test_shipped_feeds_yaml_loads_cleanly_with_the_domain_feeds_and_topics():
    config = load_config(ROOT / "feeds.yaml", env={})
    bis = config.feed("fr-bis")
    assert bis is not None and bis.url == BIS_URL and bis.enabled
    entity = config.feed("fr-entity-list")
    assert entity is not None and entity.enabled
    assert "conditions%5Bterm%5D=%22entity%20list%22" in entity.url
    assert "conditions%5Btype%5D%5B%5D=RULE" in entity.url
    assert [t.id for t in config.topics] == [
        "entity-list", "export-controls", "semiconductors", "ipef", "economic-security",
        "rare-earths",
    ]  # fmt: skip
    top = max(config.topics, key=lambda t: t.priority)
    assert top.id == "entity-list"
    assert len({t.priority for t in config.topics}) == 6
    # Valid without any Slack id of ours: no digest, no admin.
    assert (config.digests, config.admins, config.ops_channel) == ((), (), None)
    # Enabled feeds are the Federal Register's API; unchecked ones are disabled.
    for feed in config.feeds:
        on_fr = feed.url.startswith("https://www.federalregister.gov/api/v1/documents.rss?")
        assert feed.enabled == on_fr, feed.id
        assert not feed.allow_private


def test_shipped_settings_are_the_defaults_shown():
    config = load_config(ROOT / "feeds.yaml", env={})
    assert config.settings == Settings()
    assert config.settings.retention_days == 180
    text = (ROOT / "feeds.yaml").read_text()
    # Each one is written out (templates_dir, whose default is "none", as a comment).
    names = {f.name for f in dataclasses.fields(Settings)}
    shown = {name for name in names if re.search(rf"^  (# )?{name}: ", text, re.MULTILINE)}
    assert shown == names


def test_shipped_topics_match_the_items_they_are_named_for():
    query = pytest.importorskip("bot.find.query")
    from datetime import UTC, datetime

    from bot.models import Item

    config = load_config(ROOT / "feeds.yaml", env={})
    topics = {t.id: query.parse_query(t.query) for t in config.topics}
    examples = {
        "entity-list": "Additions of Entities to the Entity List",
        "export-controls": "Revisions to the Export Administration Regulations",
        "semiconductors": "Japan storms back into the chip wars",
        "ipef": "Indo-Pacific Economic Framework supply chain agreement enters into force",
        "economic-security": "経済安全保障推進法に基づく特定重要物資の指定",
        "rare-earths": "China tightens export controls on gallium and germanium",
    }
    now = datetime.now(UTC)
    for topic_id, title in examples.items():
        doc = query.prepare_doc(Item(id="1", feed_id="x", title=title))
        assert topics[topic_id].matches(doc, now=now), topic_id
    # A near miss the corpus notes: an export control list that is not the Entity List.
    near = query.prepare_doc(
        Item(id="2", feed_id="x", title="China adds 14 EU entities to export control list")
    )
    assert not topics["entity-list"].matches(near, now=now)


def test_the_embedded_default_is_a_relative_symlink_to_the_shipped_file():
    link = ROOT / "bot" / "default_feeds.yaml"
    assert link.is_symlink()
    assert os.readlink(link) == "../feeds.yaml"
    assert link.read_text() == (ROOT / "feeds.yaml").read_text()


# -- where the file comes from ------------------------------------------------


def write(path: Path, feed_id: str) -> Path:
    path.write_text(f"feeds:\n  - id: {feed_id}\n    url: https://example.org/{feed_id}.xml\n")
    return path


def test_the_embedded_default_is_used_when_there_is_no_feeds_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.path == EMBEDDED_PATH
    assert config.feed("fr-bis") is not None
    assert config.feeds == load_config(ROOT / "feeds.yaml", env={}).feeds


def test_feeds_yaml_in_the_working_directory_beats_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "feeds.yaml", "local")
    config = load_config(env={})
    assert config.path == "feeds.yaml"
    assert [f.id for f in config.feeds] == ["local"]


def test_briefbot_config_names_the_file_and_an_explicit_path_beats_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "feeds.yaml", "local")
    from_env = write(tmp_path / "env.yaml", "from-env")
    explicit = write(tmp_path / "explicit.yaml", "explicit")
    env = {"BRIEFBOT_CONFIG": str(from_env)}
    assert [f.id for f in load_config(env=env).feeds] == ["from-env"]
    assert load_config(env=env).path == str(from_env)
    assert [f.id for f in load_config(explicit, env=env).feeds] == ["explicit"]


def test_a_named_file_that_does_not_exist_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, env={})
    assert str(info.value) == f"{missing}: no such file"
    with pytest.raises(ConfigError) as info:
        load_config(env={"BRIEFBOT_CONFIG": str(missing)})
    assert str(info.value) == f"{missing}: no such file (named by BRIEFBOT_CONFIG)"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "is not a file"),
        (b"feeds: []\n# caf\xe9\n", ":2: is not UTF-8 text"),
        (b"#" * (5 * 1024 * 1024 + 1), "bytes; a feeds.yaml over 5,242,880 bytes is refused"),
    ],
    ids=["directory", "latin-1", "too-big"],
)
def test_a_file_that_cannot_be_read_as_yaml_text_is_an_error(tmp_path, content, expected):
    path = tmp_path / "feeds.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)


def test_errors_in_a_loaded_file_carry_its_path(tmp_path):
    path = tmp_path / "ops.yaml"
    path.write_text("feeds:\n  - id: a\n    url: https://example.org/\n    enabled: on\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}:4: feed 'a': enabled must be true or false, not 'on'"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + b"feeds:\n  - id: a\n    url: https://example.org/\n")
    assert [f.id for f in load_config(path, env={}).feeds] == ["a"]


# -- the environment ------------------------------------------------------------


def test_environment_fills_data_dir_and_slack_secrets():
    config = parse(
        "settings:\n  data_dir: ./from-file\n",
        env={
            "BRIEFBOT_DATA": "/srv/briefbot",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": "http://127.0.0.1:9999/api",
        },
    )
    assert config.settings.data_dir == "/srv/briefbot"
    assert config.slack == SlackSecrets(
        bot_token=BOT_TOKEN,
        signing_secret=SIGNING_SECRET,
        app_token=APP_TOKEN,
        api_url="http://127.0.0.1:9999/api/",  # slack_sdk appends method names to it
    )
    assert config.slack.socket_mode


def test_without_environment_the_file_and_defaults_apply():
    config = parse("settings:\n  data_dir: ./from-file\n", env={"SLACK_BOT_TOKEN": "  "})
    assert config.settings.data_dir == "./from-file"
    assert config.slack == SlackSecrets()
    assert config.slack.api_url == "https://slack.com/api/"
    assert not config.slack.socket_mode


def test_a_bad_slack_api_url_is_an_environment_error_without_its_credentials():
    found = problems("", env={"SLACK_API_URL": f"ftp://bot:{URL_PASSWORD}@proxy/api/"})
    assert found == [
        "<environment>: SLACK_API_URL 'ftp://***@proxy/api/' must be an http:// or https:// "
        "URL such as https://slack.com/api/"
    ]


def test_load_config_reads_os_environ_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIEFBOT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    config = load_config(write(tmp_path / "feeds.yaml", "a"))
    assert config.settings.data_dir == str(tmp_path / "data")
    assert config.slack.bot_token == BOT_TOKEN


# -- secrets never shown ----------------------------------------------------------


SECRET_ENV = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "SLACK_APP_TOKEN": APP_TOKEN,
    "SLACK_API_URL": f"https://relay:{URL_PASSWORD}@slack-proxy.example/api/",
}


def config_with_secrets() -> Config:
    return parse(
        f"""\
        feeds:
          - id: private-feed
            url: https://reader:{URL_PASSWORD}@feeds.example.org/x.rss?api_key={URL_TOKEN}&q=chips
          - id: tokened
            url: https://feeds.example.org/y.rss?access_token={URL_TOKEN}&keywords=wafer
        """,
        env=SECRET_ENV,
    )


def test_no_secret_appears_in_the_description_or_the_config_objects():
    config = config_with_secrets()
    assert config.slack.bot_token == BOT_TOKEN  # the values are there, for the bot to use
    described = describe_config(config)
    outputs = [
        json.dumps(described),
        repr(described),
        repr(config),
        str(config),
        repr(config.slack),
        str(config.slack),
        f"{config.slack}",
    ]
    for text in outputs:
        for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, URL_PASSWORD, URL_TOKEN):
            assert secret not in text
    assert described["slack"] == {
        "bot_token": "set",
        "signing_secret": "set",
        "app_token": "set",
        "api_url": "https://***@slack-proxy.example/api/",
        "mode": "socket",
    }
    assert [f["url"] for f in described["feeds"]] == [
        "https://***@feeds.example.org/x.rss?api_key=***&q=chips",
        "https://feeds.example.org/y.rss?access_token=***&keywords=wafer",
    ]


def test_describe_shows_every_setting_and_the_resolved_values():
    config = parse(
        f"""\
        settings:
          connect_timeout: 5s
        feeds:
          - id: fr-bis
            url: {BIS_URL}
            interval: 90m
        topics:
          - id: chips
            query: chip
        digests:
          - channel: C0123456789
            at: "07:05"
            timezone: America/New_York
            days: weekdays
        """
    )
    described = describe_config(config)
    assert described["path"] == "feeds.yaml"
    assert described["settings"] == {
        f.name: getattr(Settings(connect_timeout=5.0), f.name) for f in dataclasses.fields(Settings)
    }
    assert described["feeds"] == [
        {
            "id": "fr-bis",
            "name": "fr-bis",
            "url": BIS_URL,  # nothing secret in it: unchanged, encoding and all
            "interval": "1h30m",
            "interval_seconds": 5400,
            "tags": [],
            "enabled": True,
            "allow_private": False,
        }
    ]
    assert described["topics"] == [
        {"id": "chips", "query": "chip", "description": "", "priority": 0}
    ]
    assert described["digests"] == [
        {
            "channel": "C0123456789",
            "at": "07:05",
            "timezone": "America/New_York",
            "days": "mon-fri",
            "topics": "all",
            "feeds": "all",
            "max_items": 20,
            "thread": True,
            "when_empty": "skip",
        }
    ]
    assert described["slack"]["bot_token"] == "not set"
    assert described["slack"]["api_url"] == "https://slack.com/api/"
    assert described["slack"]["mode"] == "http"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (BIS_URL, BIS_URL),
        ("https://u:p@example.org/feed", "https://***@example.org/feed"),
        ("https://u@example.org/feed", "https://***@example.org/feed"),
        ("https://example.org/f?token=abc&x=1", "https://example.org/f?token=***&x=1"),
        ("https://example.org/f?apiKey=abc", "https://example.org/f?apiKey=***"),
        ("https://example.org/f?apikey=abc", "https://example.org/f?apikey=***"),
        ("https://example.org/f?client_secret=a&password=b", "https://example.org/f?client_secret=***&password=***"),
        ("https://example.org/f?X-Amz-Signature=abc", "https://example.org/f?X-Amz-Signature=***"),
        ("https://example.org/f?keywords=export&monkey=1", "https://example.org/f?keywords=export&monkey=1"),
        ("https://example.org/cb#access_token=abc", "https://example.org/cb#***"),
    ],
    ids=["plain", "user-password", "user-only", "token", "apiKey", "apikey", "secret-password",
         "signature", "not-secret-lookalikes", "fragment-token"],
)  # fmt: skip
def test_redact_url_hides_credentials_and_keeps_the_rest(url, shown):
    assert redact_url(url) == shown


# -- bad input never crashes ------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_yaml_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(
            ["feeds", "topics", "digests", "settings", "id", "url", "interval", "at", "days",
             "channel", "timezone", "tags", "query", "enabled", "max_bytes", "admins", "x"]
        ),
        inner,
        max_size=5,
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(_yaml_values)
def test_any_yaml_document_gives_a_config_or_a_config_error(value):
    text = yaml.safe_dump(value, allow_unicode=True)
    try:
        parse_config_text(text, "feeds.yaml", env={})
    except ConfigError as err:
        assert err.problems
        assert all(p.file == "feeds.yaml" for p in err.problems)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_config_or_a_config_error(text):
    try:
        parse_config_text(text, "feeds.yaml", env={})
    except ConfigError as err:
        assert err.problems
