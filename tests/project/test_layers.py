"""The shape of the code, checked: the layer contract, the size rules, strict typing.

The import contract lives in pyproject.toml (`[tool.importlinter]`) and is
checked with import-linter. Each check is also run once against code that
breaks it, to show that it can fail.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.support import paths

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
SIZED = ("bot", "bench")


def lint_imports(cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_the_layer_contract_is_kept() -> None:
    result = lint_imports(paths.ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _contract_modules() -> set[str]:
    config = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    modules: set[str] = set()
    for contract in config["tool"]["importlinter"]["contracts"]:
        for key in ("source_modules", "forbidden_modules"):
            modules.update(m for m in contract.get(key, ()) if m.startswith("bot"))
    return modules


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        ("bot.find", "bot.slack", "Pure stages import no adapter"),
        ("bot.render", "bot.app", "Nothing imports bot.app"),
        ("bot.brief", "tinydb", "Only bot.store.tinydb imports tinydb"),
        ("bot.deliver", "slack_sdk", "Only bot.slack imports slack_sdk"),
        ("bot.render", "matplotlib", "Only bot.render.charts imports matplotlib"),
    ],
)
def test_the_layer_contract_fails_when_a_rule_is_broken(
    tmp_path: Path, importer: str, imported: str, contract: str
) -> None:
    """The same contract, over a stand-in `bot` package in which one rule is broken."""
    for module in _contract_modules() | {"bot"}:
        package = tmp_path.joinpath(*module.split("."))
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
    culprit = tmp_path.joinpath(*importer.split("."), "culprit.py")
    culprit.write_text(f"import {imported}\n")
    (tmp_path / "pyproject.toml").write_text((paths.ROOT / "pyproject.toml").read_text())
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert contract in result.stdout
    assert f"{importer}.culprit -> {imported}" in result.stdout


def _sized_files() -> list[Path]:
    return sorted(p for top in SIZED for p in (paths.ROOT / top).rglob("*.py"))


def _too_big(path: Path, root: Path = paths.ROOT) -> list[str]:
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(root)
    found = []
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        found.append(f"{where}: {lines} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            if size > MAX_FUNCTION_LINES:
                found.append(f"{where}:{node.lineno} {node.name}: {size} lines")
    return found


def test_no_module_over_500_lines_and_no_function_over_60() -> None:
    problems = [problem for path in _sized_files() for problem in _too_big(path)]
    assert problems == []


def test_the_size_check_fails_for_a_long_function_and_module(tmp_path: Path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long() -> None:\n{body}\n" + "\n" * MAX_MODULE_LINES)
    assert _too_big(sample, tmp_path) == [
        f"sample.py: {MAX_FUNCTION_LINES + 1 + MAX_MODULE_LINES} lines (at most 500)",
        f"sample.py:1 long: {MAX_FUNCTION_LINES + 1} lines",
    ]


def test_every_package_says_what_it_owns() -> None:
    empty = [
        str(init.relative_to(paths.ROOT))
        for init in (paths.ROOT / "bot").rglob("__init__.py")
        if ast.get_docstring(ast.parse(init.read_text())) is None
        and init.parent.name != "demo_feeds"
    ]
    assert empty == []


def test_mypy_strict_rejects_an_untyped_test(tmp_path: Path) -> None:
    """mypy runs strict over bot, bench and tests with pyproject's settings; it can fail."""
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        textwrap.dedent(
            """
            def test_untyped(value):
                assert value
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(paths.ROOT / "pyproject.toml"),
            str(sample),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "Function is missing a type annotation" in result.stdout


def test_mypy_covers_the_tests() -> None:
    config = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())
    assert set(config["tool"]["mypy"]["files"]) >= {"bot", "bench", "tests"}
