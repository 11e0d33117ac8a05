"""ruff and mypy are part of the suite, so the one test command runs every check."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import paths

ROOT = paths.ROOT


@pytest.mark.parametrize(
    "args",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_is_clean(args: list[str]) -> None:
    pytest.importorskip(args[0])
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
