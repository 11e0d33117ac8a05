"""Template lookup (bot/render/templates.py): the operator's templates_dir over the bundled ones."""

from __future__ import annotations

import os
from pathlib import Path

from bot.render.renderer import Renderer
from tests.render.cases import (
    DATE_LABEL,
    DIGEST,
    ENTITY,
    FEED_NAMES,
    block_texts,
    write,
)


def test_override_directory_replaces_only_the_templates_it_holds(tmp_path: Path) -> None:
    write(
        tmp_path,
        "digest.j2",
        '{{ header("Morning brief " ~ date_label) }}\n'
        "{% for s in sections %}{% for item in s.items %}\n"
        "{% call section() %}{{ bold(item.title) }} ({{ item.feed }}){% endcall %}\n"
        "{% endfor %}{% endfor %}\n",
    )
    renderer = Renderer(str(tmp_path), feed_names=FEED_NAMES)
    assert renderer.check() == []
    digest = renderer.render_digest(DIGEST)
    assert block_texts(digest)[:3] == [
        f"Morning brief {DATE_LABEL}",
        "*Additions to the Entity List* (Federal Register: BIS)",
        "*Samsung &amp; SK Hynix get a one-year waiver for their China fabs* (ChipWire)",
    ]
    alert = renderer.render_alerts("U1", [(ENTITY, ("topic entity-list",))])
    assert block_texts(alert)[0] == "*1 new item* for your subscriptions"  # bundled alert.j2


def test_override_is_reread_when_the_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path, "notice.j2", "{% call section() %}one: {{ text }}{% endcall %}\n")
    renderer = Renderer(str(tmp_path))
    assert block_texts(renderer.render_notice("x")) == ["one: x"]
    path.write_text("{% call section() %}two: {{ text }}{% endcall %}\n", encoding="utf-8")
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert block_texts(renderer.render_notice("x")) == ["two: x"]
