"""Reading YAML nodes (bot/config/checker.py): syntax, duplicate keys, types, merge keys.

Scalars are read as written, not by YAML 1.1's guesses.
"""

from __future__ import annotations

from datetime import time

import pytest

from tests.config.feedsyaml import parse, problems

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
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


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
def test_text_fields_keep_what_was_written_not_yaml_1_1_guesses(
    line: str, field: str, expected: time | str
) -> None:
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


def test_a_yaml_merge_key_shares_defaults_and_explicit_keys_win() -> None:
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


def _shape(node: object) -> object:
    """A node tree as plain data: tag, style, line and value of every node."""
    import yaml.nodes

    assert isinstance(node, yaml.nodes.Node)
    value = node.value
    if isinstance(node, yaml.nodes.MappingNode):
        value = [(_shape(k), _shape(v)) for k, v in value]
    elif isinstance(node, yaml.nodes.SequenceNode):
        value = [_shape(v) for v in value]
    return (node.tag, getattr(node, "style", None), node.start_mark.line, value)


@pytest.mark.parametrize("name", ["feeds.yaml", "bot/default_feeds.yaml"])
def test_libyaml_reads_the_shipped_files_as_the_python_parser_does(name: str) -> None:
    import yaml

    from bot.config.checker import Checker
    from tests.support import paths

    text = (paths.ROOT / name).read_text(encoding="utf-8")
    fast = Checker(name).compose(text)
    pure = yaml.compose(text, Loader=yaml.SafeLoader)
    assert _shape(fast) == _shape(pure)
