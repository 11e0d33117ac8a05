"""The shared value objects: `Item.duplicate_of`, the one reading of a same-story link."""

from __future__ import annotations

from typing import Any

import pytest

from bot.models import Item


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        pytest.param({"duplicate_of": 12}, 12, id="a-seq"),
        pytest.param({"duplicate_of": 1}, 1, id="the-first-seq"),
        pytest.param({}, None, id="missing"),
        pytest.param({"duplicate_of": None}, None, id="none"),
        pytest.param({"duplicate_of": ""}, None, id="empty-string"),
        pytest.param({"duplicate_of": 0}, None, id="zero"),
        pytest.param({"duplicate_of": -3}, None, id="negative"),
        pytest.param({"duplicate_of": True}, None, id="true"),
        pytest.param({"duplicate_of": False}, None, id="false"),
        pytest.param({"duplicate_of": "12"}, None, id="digits-in-a-string"),
        pytest.param({"duplicate_of": "wire:x"}, None, id="not-a-seq"),
        pytest.param({"duplicate_of": 12.0}, None, id="a-float"),
        pytest.param({"duplicate_of": [12]}, None, id="a-list"),
        pytest.param({"duplicate_of": 5}, None, id="its-own-seq"),
    ],
)
def test_duplicate_of(extras: dict[str, Any], expected: int | None) -> None:
    item = Item(id="x", feed_id="f", title="t", seq=5, extras=extras)
    assert item.duplicate_of == expected


def test_an_unstored_item_reads_its_link_too() -> None:
    assert Item(id="x", feed_id="f", title="t", extras={"duplicate_of": 7}).duplicate_of == 7
