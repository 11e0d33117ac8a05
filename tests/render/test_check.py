"""The template self-check (bot/render/check.py): broken overrides found with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.render.renderer import Renderer
from bot.render.slacklimits import validate_message
from bot.render.templates import TEMPLATE_NAMES
from tests.render.cases import (
    write,
)
from tests.support import paths


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            "{# a comment #}\n{{ header(date_label) }}\n"
            "{% call section() %}{{ date_label }{% endcall %}\n",
            3,
            "unexpected '}'",
        ),
        (
            "{% if item_count %}\n{% call section() %}x{% endcall %}\n",
            2,
            "Unexpected end of template",
        ),
        (
            "{{ header(date_label) }}\n{% call section() %}{{ headline }}{% endcall %}\n",
            2,
            "'headline' is undefined",
        ),
        (
            "\n\n{% call section() %}{{ view.no_such_field }}{% endcall %}\n",
            3,
            "has no attribute 'no_such_field'",
        ),
        ("{% call section() %}{{ divider() }}{% endcall %}\n", 1, "blocks cannot be nested"),
        ("{{ item_count|safe }}\n", 1, "No filter named 'safe'"),
    ],
    ids=[
        "syntax",
        "unclosed-block",
        "unknown-variable",
        "unknown-attribute",
        "nested-blocks",
        "safe-filter-removed",
    ],
)
def test_check_reports_a_broken_override_with_file_and_line(
    tmp_path: Path, source: str, line: int, message: str
) -> None:
    path = write(tmp_path, "digest.j2", source)
    errors = Renderer(str(tmp_path)).check()
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{line}: "), errors
    assert message in errors[0]


def test_check_reports_markup_an_override_writes_literally(tmp_path: Path) -> None:
    path = write(tmp_path, "notice.j2", "{% call section() %}<!here> {{ text }}{% endcall %}\n")
    renderer = Renderer(str(tmp_path))
    (error,) = renderer.check()
    assert error.startswith(f"{path}: writes '<!here> ")
    assert "which Slack would read as markup" in error
    # At run time the literal reaches Slack as text, never as a broadcast.
    (msg,) = renderer.render_notice("hello")
    assert msg.blocks[0]["text"]["text"] == "&lt;!here> hello"
    assert validate_message(msg) == []


def test_check_reports_a_missing_templates_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert Renderer(str(missing)).check() == [f"templates_dir {missing}: not a directory"]


def test_bundled_templates_pass_check_and_each_has_a_header_comment() -> None:
    assert Renderer().check() == []
    for name in TEMPLATE_NAMES:
        source = (paths.ROOT / "templates" / name).read_text(encoding="utf-8")
        assert source.startswith("{#-\n  " + name + ":"), name
        assert "Variables:" in source, name
