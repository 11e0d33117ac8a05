"""The feeds: section (bot/config/sections/feeds.py).

The private-address policy its URLs obey is tested in tests/config/test_addresses.py.
"""

from __future__ import annotations

import pytest

from tests.config.feedsyaml import URL_PASSWORD, parse, problems


def test_disabled_feeds_are_kept_but_not_enabled() -> None:
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


ERROR_CASES = [
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
        feeds:
          - id: screening-list
            url: https://example.org/csl.xml
        """,
        [
            "feeds.yaml:2: feed 'screening-list': id 'screening-list' is taken by the screening "
            "list (screening_list:), whose changes are stored as that feed's items; "
            "choose another id"
        ],
        id="feed-id-of-the-screening-list",
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
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_enrich_federal_register_is_a_feed_option() -> None:
    config = parse(
        """\
        feeds:
          - id: fr-bis
            url: https://www.federalregister.gov/api/v1/documents.rss
            enrich: federal-register
          - id: news
            url: https://example.org/news.xml
        """
    )
    assert [(f.id, f.enrich) for f in config.feeds] == [
        ("fr-bis", "federal-register"),
        ("news", None),
    ]


def test_enrich_and_api_url_errors_name_their_lines() -> None:
    found = problems(
        """\
        settings:
          federal_register_api: file:///etc/passwd
        feeds:
          - id: fr-bis
            url: https://www.federalregister.gov/api/v1/documents.rss
            enrich: federalregister
        """
    )
    assert found == [
        "feeds.yaml:2: settings: federal_register_api must be an http(s) URL such as "
        "https://www.federalregister.gov/api/v1/",
        "feeds.yaml:6: feed 'fr-bis': enrich 'federalregister' is not known; "
        "it can be federal-register",
    ]
