"""The configuration's value objects (bot/config/model.py)."""

from __future__ import annotations

from bot.config.model import (
    ConfigError,
    ConfigProblem,
)


def test_problem_without_a_line_prints_file_and_message() -> None:
    error = ConfigError(
        [ConfigProblem("x.yaml", None, "no such file"), ConfigProblem("x.yaml", 3, "bad")]
    )
    assert str(error) == "x.yaml: no such file\nx.yaml:3: bad"
    assert len(error.problems) == 2
