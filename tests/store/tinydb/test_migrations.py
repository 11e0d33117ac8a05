"""Schema versions: older files migrated (and rewritten when opened to write), others refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.store.ports import StoreError
from bot.store.tinydb.migrations import SCHEMA_VERSION
from bot.store.tinydb.store import TinyStore
from tests.store.tinydb.helpers import add, data_files, item


def write_v0_files(data: Path) -> None:
    """The layout before versioning: no _meta table, items without dedup_keys."""
    data.mkdir()
    v0_item = {
        "id": "2026-11111",
        "feed_id": "fr-bis",
        "title": "Revisions to the Entity List",
        "link_title_key": "lt-rev",
        "first_seen": "2026-11-02T10:00:00+00:00",
        "backlog": False,
    }
    (data / "items-2026-11.json").write_text(json.dumps({"items": {"7": v0_item}}))
    v0_state = {"feeds": {"1": {"key": "fr-bis", "value": {"feed_id": "fr-bis", "etag": "v0"}}}}
    (data / "state.json").write_text(json.dumps(v0_state))


def test_unversioned_v0_files_are_migrated(tmp_path: Path) -> None:
    data = tmp_path / "d"
    write_v0_files(data)
    with TinyStore.open(data) as s:
        # Rewritten in the current layout as the directory was opened to write.
        for name in ("items-2026-11.json", "state.json"):
            meta = json.loads((data / name).read_bytes())["_meta"]["1"]
            assert meta["schema"] == SCHEMA_VERSION
        loaded = s.items.get("fr-bis", "2026-11111")
        assert loaded is not None
        assert (loaded.seq, loaded.title) == (7, "Revisions to the Entity List")
        assert s.items.is_known(item("new-guid", link_title_key="lt-rev"))
        state = s.feed_states.get("fr-bis")
        assert state is not None
        assert state.etag == "v0"
        assert [i.seq for i in add(s, [item("next")])] == [8]
    for path in data_files(data):
        assert json.loads(path.read_bytes())["_meta"]["1"]["schema"] == SCHEMA_VERSION
    items = json.loads((data / "items-2026-11.json").read_bytes())["items"]
    assert items["7"]["dedup_keys"] == list(item("2026-11111", link_title_key="lt-rev").dedup_keys)


FUTURE = {"_meta": {"1": {"schema": 99, "kind": "state"}}}


@pytest.mark.parametrize("read_only", [False, True], ids=["write", "read-only"])
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param(
            "state.json",
            json.dumps(FUTURE),
            "state.json has schema version 99, but this briefbot understands at most version 1;"
            " upgrade briefbot",
            id="future-version",
        ),
        pytest.param(
            "items-2026-11.json",
            '{"items": {"1": {"id": "a", "feed_',
            "items-2026-11.json is not valid JSON",
            id="cut-off-file",
        ),
        pytest.param("state.json", "[1, 2]", "state.json is not a TinyDB file", id="not-tables"),
        pytest.param(
            "items-2026-11.json",
            json.dumps({"_meta": {"1": {"schema": 1, "kind": "state"}}}),
            "items-2026-11.json holds 'state' data where 'items' data was expected",
            id="wrong-kind",
        ),
        pytest.param(
            "items-2026-11.json",
            json.dumps({"_meta": {"1": {"schema": 1, "kind": "items"}}, "items": {"1": {}}}),
            "items-2026-11.json: document '1' is damaged",
            id="damaged-doc",
        ),
        pytest.param(
            "items-2026-11.json",
            json.dumps(
                {
                    "_meta": {"1": {"schema": 1, "kind": "items"}},
                    "items": {"1": {"id": "a", "feed_id": "f", "dedup_keys": [7]}},
                }
            ),
            "items-2026-11.json: document '1' is damaged",
            id="key-not-a-string",
        ),
        pytest.param(
            "state.json",
            json.dumps({"_meta": {"1": {"schema": 1, "kind": "state", "seq_high_water": "9"}}}),
            "state.json: seq_high_water is '9', not an integer",
            id="bad-high-water",
        ),
    ],
)
def test_unreadable_files_are_refused_clearly(
    tmp_path: Path, name: str, content: str, message: str, read_only: bool
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / name).write_text(content)
    with pytest.raises(StoreError) as refused:
        TinyStore.open(data, read_only=read_only)
    assert message in str(refused.value)
    assert str(data / name) in str(refused.value)
    assert (data / name).read_text() == content, "the refused file was changed"
    # The refused open released the directory: fixing the file is enough.
    (data / name).unlink()
    with TinyStore.open(data) as s:
        assert s.items.count() == 0
