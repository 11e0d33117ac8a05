"""The screening_list: section (bot/config/sections/screening.py)."""

from __future__ import annotations

from tests.config.feedsyaml import URL_PASSWORD, parse, problems


def test_absent_means_never_downloaded() -> None:
    assert parse("feeds: []\n").screening_list is None


def test_url_and_interval() -> None:
    config = parse(
        """\
        screening_list:
          url: https://data.trade.gov/consolidated_screening_list/v1/consolidated.csv
          interval: 12h
        """
    )
    assert config.screening_list is not None
    assert config.screening_list.url.endswith("/consolidated.csv")
    assert config.screening_list.interval_seconds == 12 * 3600
    assert config.screening_list.enabled


def test_problems_name_their_lines_and_hide_secrets() -> None:
    found = problems(
        f"""\
        feeds: []
        screening_list:
          url: ftp://user:{URL_PASSWORD}@example.org/csl.csv
          interval: 5m
          enable: false
        """
    )
    assert any(p.startswith("feeds.yaml:3: screening_list: url") for p in found), found
    assert any(p.startswith("feeds.yaml:4: screening_list: interval") for p in found), found
    assert any(p.startswith("feeds.yaml:5: screening_list: unknown key 'enable'") for p in found), (
        found
    )
    assert not any(URL_PASSWORD in p for p in found)


def test_loopback_only_with_allow_private() -> None:
    found = problems(
        """\
        screening_list:
          url: http://127.0.0.1:8080/csl.csv
        """
    )
    assert any("feeds.yaml:2: screening_list: url" in p for p in found), found
    allowed = parse(
        """\
        screening_list:
          url: http://127.0.0.1:8080/csl.csv
          allow_private: true
        """
    )
    assert allowed.screening_list is not None
    assert allowed.screening_list.allow_private
