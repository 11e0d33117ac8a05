"""The README documents every command, environment variable and feeds.yaml key;
the docs name only files, directories and tests that exist."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from bot.app.cli.main import build_parser
from bot.models import FeedConfig, Settings
from tests.support import paths

ROOT = paths.ROOT
README = (ROOT / "README.md").read_text()

#: The documents whose paths are checked (CHANGELOG.md is history: it names old paths).
DOCUMENTS = [
    "README.md",
    "RELIABILITY.md",
    "BENCHMARKS.md",
    "ARCHITECTURE.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
]

#: A .py file or a directory (trailing slash) under bot/, tests/ or bench/, not part
#: of a longer path or URL; `*` is a glob. Then an optional `::test_name` (or
#: `::Class::test_name`) and a parametrization id, which is not checked.
PATH_REFERENCE = re.compile(
    r"(?<![\w./-])"
    r"((?:bot|tests|bench)/(?:[\w.*-]+/)*[\w.*-]+\.py\b|(?:bot|tests|bench)/(?:[\w.*-]+/)*)"
    r"((?:::\w+)*)"
)


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", subcommands())
def test_readme_documents_each_command(command: str) -> None:
    assert f"briefbot {command}" in README


@pytest.mark.parametrize(
    "variable",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "BRIEFBOT_CONFIG",
        "BRIEFBOT_DATA",
    ],
)
def test_readme_documents_each_environment_variable(variable: str) -> None:
    assert variable in README


@pytest.mark.parametrize("key", [f.name for f in dataclasses.fields(Settings)])
def test_readme_documents_each_setting(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize(
    "key",
    [
        f.name if f.name != "interval_seconds" else "interval"
        for f in dataclasses.fields(FeedConfig)
    ],
)
def test_readme_documents_each_feed_key(key: str) -> None:
    assert f"`{key}`" in README


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second() -> None:
    block = re.search(r"## Quickstart.*?```(?:sh|bash)?\n(.*?)```", README, re.DOTALL)
    assert block, "README has a Quickstart code block"
    commands = [
        line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")
    ]
    assert len(commands) == 2
    assert "briefbot demo" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def _defined_names(path: Path) -> set[str]:
    """Every function and class defined in the module at `path`, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _found(path: str, root: Path) -> list[Path]:
    """What `path` (a file, a directory ending in "/", or a glob) names under `root`."""
    if "*" in path:
        return sorted(root.glob(path.rstrip("/")))
    target = root / path
    return [target] if (target.is_dir() if path.endswith("/") else target.is_file()) else []


def missing_paths(text: str, root: Path = ROOT) -> list[str]:
    """The references in `text` to paths under bot/, tests/ or bench/ that `root` lacks.

    A reference is a .py file or a directory written with a trailing slash; one
    followed by `::name` also needs each name defined in that file. Each missing
    reference is listed once, as written, in the order of the text.
    """
    missing: list[str] = []
    for match in PATH_REFERENCE.finditer(text):
        path, names = match.group(1), match.group(2)
        reference = path + names
        if reference in missing:
            continue
        found = _found(path, root)
        wanted = set(names.split("::")[1:])
        if wanted:
            found = [f for f in found if f.is_file() and wanted <= _defined_names(f)]
        if not found:
            missing.append(reference)
    return missing


@pytest.mark.parametrize("document", DOCUMENTS)
def test_docs_name_only_paths_that_exist(document: str) -> None:
    missing = missing_paths((ROOT / document).read_text())
    assert not missing, f"{document} names paths that do not exist: " + ", ".join(missing)


def test_the_path_check_reports_missing_files_directories_and_tests() -> None:
    this = "tests/project/test_docs.py"
    text = f"""
    Moved: `tests/test_crash.py` and bot/store.py, `bot/nowhere/`, `tests/*/test_*_nothing.py`;
    {this}::test_no_such_test and {this}::test_readme_documents_each_command[run].
    Still here: `tests/store/tinydb/`, tests/deliver/test_*_crash.py, bench/corpus.py,
    `{this}::test_docs_name_only_paths_that_exist`, and not ours: ../shared/fr-samples/,
    https://example.com/tests/x.py, bot/default_feeds.yaml.
    """
    assert missing_paths(text) == [
        "tests/test_crash.py",
        "bot/store.py",
        "bot/nowhere/",
        "tests/*/test_*_nothing.py",
        f"{this}::test_no_such_test",
    ]
