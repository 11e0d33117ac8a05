"""Where the test suite finds the repository, its fixtures and the shared corpus."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (holds pyproject.toml).
ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden"
#: ../shared/feeds-corpus beside the checkout (absent on CI: tests using it skip).
CORPUS = ROOT.parent / "shared" / "feeds-corpus"
