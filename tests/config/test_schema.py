"""feeds.yaml as a whole: the example file, top-level errors, loading, the environment, fuzzing."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.model import (
    ConfigError,
    DigestConfig,
    SlackSecrets,
    TopicConfig,
)
from bot.config.schema import EMBEDDED_PATH, load_config, parse_config_text
from bot.models import FeedConfig, Settings
from tests.config.feedsyaml import BIS_URL, URL_PASSWORD, parse, problems
from tests.support import paths
from tests.support.secretscan import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET

ROOT = paths.ROOT


# A feeds.yaml with every section, as an operator would write it.
PRODUCT_EXAMPLE = f"""\
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


def test_the_product_example_reads_into_the_documented_objects() -> None:
    config = parse(PRODUCT_EXAMPLE)
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
def test_a_config_with_nothing_to_watch_is_valid(text: str) -> None:
    config = parse(text)
    assert (config.feeds, config.topics, config.digests, config.admins) == ((), (), (), ())
    assert config.settings == Settings()
    assert config.path == "feeds.yaml"


# -- errors of the file as a whole ----------------------------------------------

ERROR_CASES = [
    pytest.param(
        "- id: fr-bis\n  url: https://example.org/a.xml\n",
        [
            "feeds.yaml:1: the top level must be a mapping with the keys settings, feeds, "
            "topics, digests, admins, ops_channel, screening_list, not a list"
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
            "topics, digests, admins, ops_channel, screening_list"
        ],
        id="top-level-unknown-key-no-hint",
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
        "feeds:\n  id: fr-bis\n",
        ["feeds.yaml:2: feeds must be a list such as [{id: ..., url: ...}], not a mapping"],
        id="feeds-is-a-mapping",
    ),
    pytest.param(
        "admins: [U0123456789, alice]\nops_channel: ops\n",
        [
            "feeds.yaml:1: admins: admin 'alice' is not a Slack user id such as U0123456789",
            "feeds.yaml:2: ops_channel 'ops' is not a Slack channel id such as C0123456789",
        ],
        id="admins-and-ops-channel",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_every_problem_of_a_file_is_reported_in_line_order() -> None:
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


# -- the shipped feeds.yaml -----------------------------------------------------


def test_shipped_feeds_yaml_loads_cleanly_with_the_domain_feeds_and_topics() -> None:
    config = load_config(ROOT / "feeds.yaml", env={})
    bis = config.feed("fr-bis")
    assert bis is not None and bis.url == BIS_URL and bis.enabled
    entity = config.feed("fr-entity-list")
    assert entity is not None and entity.enabled
    assert "conditions%5Bterm%5D=%22entity%20list%22" in entity.url
    assert "conditions%5Btype%5D%5B%5D=RULE" in entity.url
    assert [t.id for t in config.topics] == [
        "entity-list", "export-controls", "sanctions", "semiconductors", "ipef",
        "economic-security", "rare-earths", "trade-actions", "trade-remedies",
    ]  # fmt: skip
    top = max(config.topics, key=lambda t: t.priority)
    assert top.id == "entity-list"
    assert len({t.priority for t in config.topics}) == 9
    # Valid without any Slack id of ours: no digest, no admin.
    assert (config.digests, config.admins, config.ops_channel) == ((), (), None)
    # Enabled feeds are the Federal Register's API; unchecked ones are disabled.
    for feed in config.feeds:
        on_fr = feed.url.startswith("https://www.federalregister.gov/api/v1/documents.rss?")
        assert feed.enabled == on_fr, feed.id
        assert not feed.allow_private


def test_the_shipped_file_downloads_the_screening_list_once_a_day() -> None:
    config = load_config(ROOT / "feeds.yaml", env={})
    listed = config.screening_list
    assert listed is not None and listed.enabled and not listed.allow_private
    assert listed.url == (
        "https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv"
    )
    assert listed.interval_seconds == 86400


def test_shipped_settings_are_the_defaults_shown() -> None:
    config = load_config(ROOT / "feeds.yaml", env={})
    assert config.settings == Settings()
    assert config.settings.retention_days == 180
    text = (ROOT / "feeds.yaml").read_text()
    # Each one is written out (templates_dir, whose default is "none", as a comment).
    names = {f.name for f in dataclasses.fields(Settings)}
    shown = {name for name in names if re.search(rf"^  (# )?{name}: ", text, re.MULTILINE)}
    assert shown == names


def test_shipped_topics_match_the_items_they_are_named_for() -> None:
    from datetime import UTC, datetime

    from bot.find.query.document import prepare_doc
    from bot.find.query.parser import parse_query
    from bot.models import Item

    config = load_config(ROOT / "feeds.yaml", env={})
    topics = {t.id: parse_query(t.query) for t in config.topics}
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
        doc = prepare_doc(Item(id="1", feed_id="x", title=title))
        assert topics[topic_id].matches(doc, now=now), topic_id
    # A near miss the corpus notes: an export control list that is not the Entity List.
    near = prepare_doc(
        Item(id="2", feed_id="x", title="China adds 14 EU entities to export control list")
    )
    assert not topics["entity-list"].matches(near, now=now)


def test_the_embedded_default_is_a_relative_symlink_to_the_shipped_file() -> None:
    link = ROOT / "bot" / "default_feeds.yaml"
    assert link.is_symlink()
    assert os.readlink(link) == "../feeds.yaml"
    assert link.read_text() == (ROOT / "feeds.yaml").read_text()


# -- where the file comes from ------------------------------------------------


def write(path: Path, feed_id: str) -> Path:
    path.write_text(f"feeds:\n  - id: {feed_id}\n    url: https://example.org/{feed_id}.xml\n")
    return path


def test_the_embedded_default_is_used_when_there_is_no_feeds_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.path == EMBEDDED_PATH
    assert config.feed("fr-bis") is not None
    assert config.feeds == load_config(ROOT / "feeds.yaml", env={}).feeds


def test_feeds_yaml_in_the_working_directory_beats_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "feeds.yaml", "local")
    config = load_config(env={})
    assert config.path == "feeds.yaml"
    assert [f.id for f in config.feeds] == ["local"]


def test_briefbot_config_names_the_file_and_an_explicit_path_beats_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "feeds.yaml", "local")
    from_env = write(tmp_path / "env.yaml", "from-env")
    explicit = write(tmp_path / "explicit.yaml", "explicit")
    env = {"BRIEFBOT_CONFIG": str(from_env)}
    assert [f.id for f in load_config(env=env).feeds] == ["from-env"]
    assert load_config(env=env).path == str(from_env)
    assert [f.id for f in load_config(explicit, env=env).feeds] == ["explicit"]


def test_a_named_file_that_does_not_exist_is_an_error_naming_it(tmp_path: Path) -> None:
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
def test_a_file_that_cannot_be_read_as_yaml_text_is_an_error(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "feeds.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).startswith(str(path))
    assert expected in str(info.value)


def test_errors_in_a_loaded_file_carry_its_path(tmp_path: Path) -> None:
    path = tmp_path / "ops.yaml"
    path.write_text("feeds:\n  - id: a\n    url: https://example.org/\n    enabled: on\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}:4: feed 'a': enabled must be true or false, not 'on'"


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + b"feeds:\n  - id: a\n    url: https://example.org/\n")
    assert [f.id for f in load_config(path, env={}).feeds] == ["a"]


# -- the environment ------------------------------------------------------------


def test_environment_fills_data_dir_and_slack_secrets() -> None:
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


def test_without_environment_the_file_and_defaults_apply() -> None:
    config = parse("settings:\n  data_dir: ./from-file\n", env={"SLACK_BOT_TOKEN": "  "})
    assert config.settings.data_dir == "./from-file"
    assert config.slack == SlackSecrets()
    assert config.slack.api_url == "https://slack.com/api/"
    assert not config.slack.socket_mode


def test_a_bad_slack_api_url_is_an_environment_error_without_its_credentials() -> None:
    found = problems("", env={"SLACK_API_URL": f"ftp://bot:{URL_PASSWORD}@proxy/api/"})
    assert found == [
        "<environment>: SLACK_API_URL 'ftp://***@proxy/api/' must be an http:// or https:// "
        "URL such as https://slack.com/api/"
    ]


def test_load_config_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEFBOT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    config = load_config(write(tmp_path / "feeds.yaml", "a"))
    assert config.settings.data_dir == str(tmp_path / "data")
    assert config.slack.bot_token == BOT_TOKEN


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
def test_any_yaml_document_gives_a_config_or_a_config_error(value: object) -> None:
    text = yaml.safe_dump(value, allow_unicode=True)
    try:
        parse_config_text(text, "feeds.yaml", env={})
    except ConfigError as err:
        assert err.problems
        assert all(p.file == "feeds.yaml" for p in err.problems)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config_text(text, "feeds.yaml", env={})
    except ConfigError as err:
        assert err.problems
