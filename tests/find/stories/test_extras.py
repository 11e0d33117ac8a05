"""The extras that record a repeated story."""

from __future__ import annotations

import pytest

from bot.find.stories.extras import ALSO_IN, DUPLICATE_OF, also_in, link_extras
from bot.models import Item

# --- extras helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("primary_extras", "duplicate_feed", "expected_primary_update"),
    [
        pytest.param({}, "fr-entity-list", {ALSO_IN: ["fr-entity-list"]}, id="first-repeat"),
        pytest.param({ALSO_IN: ["fr-all"]}, "news", {ALSO_IN: ["fr-all", "news"]}, id="appended"),
        pytest.param({ALSO_IN: ["fr-all"]}, "fr-all", {}, id="feed-already-named"),
        pytest.param({}, "fr-bis", {}, id="repost-in-own-feed"),
        pytest.param({ALSO_IN: "fr-all"}, "news", {ALSO_IN: ["news"]}, id="malformed-value"),
    ],
)
def test_link_extras(
    primary_extras: dict[str, object],
    duplicate_feed: str,
    expected_primary_update: dict[str, object],
) -> None:
    primary = Item(id="fr:1", feed_id="fr-bis", title="t", seq=7, extras=primary_extras)
    duplicate = Item(id="fr:1", feed_id=duplicate_feed, title="t", seq=9)

    assert link_extras(primary, duplicate) == (expected_primary_update, {DUPLICATE_OF: 7})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(["fr-all", "news"], ("fr-all", "news"), id="list"),
        pytest.param(["news", "news", "", 3, None, "fr-bis"], ("news",), id="junk-and-own-feed"),
        pytest.param("news", (), id="a-string-is-not-a-list"),
        pytest.param(None, (), id="missing"),
    ],
)
def test_also_in(value: object, expected: tuple[str, ...]) -> None:
    extras = {} if value is None else {ALSO_IN: value}
    assert also_in(Item(id="x", feed_id="fr-bis", title="t", extras=extras)) == expected
