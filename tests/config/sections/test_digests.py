"""The digests: section (bot/config/sections/digests.py): schedules and references."""

from __future__ import annotations

import pytest

from tests.config.feedsyaml import parse, problems

ERROR_CASES = [
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
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            others: none
            summaries: yes
        """,
        [
            "feeds.yaml:5: digest 'C0123456789': others must be 'show', 'count' or 'hide', "
            "not 'none'",
            "feeds.yaml:6: digest 'C0123456789': summaries must be true or false, not 'yes'",
        ],
        id="digest-others-and-summaries",
    ),
    pytest.param(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
            monthly: "first of the month"
        """,
        [
            "feeds.yaml:5: digest 'C0123456789': monthly must be true or false, "
            "not the quoted string 'first of the month'"
        ],
        id="digest-monthly",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
def test_each_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_days_given_as_a_yaml_list_of_names() -> None:
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


def test_others_and_summaries_default_to_show_and_off() -> None:
    config = parse(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
          - channel: C0123456780
            at: "08:30"
            timezone: UTC
            others: count
            summaries: true
        """
    )
    shown = [(d.others, d.summaries) for d in config.digests]
    assert shown == [("show", False), ("count", True)]


def test_monthly_is_off_unless_asked() -> None:
    config = parse(
        """\
        digests:
          - channel: C0123456789
            at: "08:30"
            timezone: UTC
          - channel: C0123456780
            at: "08:30"
            timezone: UTC
            monthly: true
        """
    )
    assert [d.monthly for d in config.digests] == [False, True]
