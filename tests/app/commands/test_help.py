"""`/brief help`: every sub-command's usage line."""

from __future__ import annotations

import pytest

from bot.app.commands.help import COMMANDS
from bot.app.runtime import Runtime
from tests.app.commands.cases import run


@pytest.mark.parametrize("text", ["", "help", "  HELP  ", "\thelp\n"], ids=repr)
def test_help_lists_every_command(runtime: Runtime, text: str) -> None:
    reply = run(runtime, text)
    assert reply.startswith("/brief commands")
    for usage, description in COMMANDS:
        assert f"{usage}  {description}" in reply
    assert "Anything else you type after /brief is searched." in reply
