"""`briefbot console`: type `/brief ...` lines, answered by the Slack handlers, printed here.

Each line goes through `bot.app.commands.dispatch.handle_command` exactly as a
Slack slash command would, as user `user_id` in channel `channel_id`; the
`/brief` prefix is optional. Replies are printed as a reader would see them in Slack
(`bot.app.terminal.print_slack_messages`). No Slack token is needed: without a
`poster`, commands that must post (`digest post`) say so and `feed poll`
leaves alerts queued for `briefbot run`.

`exit`, `quit`, end of input (Ctrl-D) or Ctrl-C leave. The console user is an
admin by default: whoever runs it can edit feeds.yaml and the data directory
anyway.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from bot.app.commands.dispatch import handle_command
from bot.app.runtime import Runtime
from bot.app.terminal import make_console, print_slack_messages, print_text
from bot.deliver.ports import Poster
from bot.models import CommandRequest

__all__ = ["PROMPT", "run_console"]

PROMPT = "/brief> "
_LEAVE = frozenset({"exit", "quit", "/exit", "/quit"})


def run_console(
    runtime: Runtime,
    *,
    user_id: str = "U0CONSOLE",
    channel_id: str = "C0CONSOLE",
    is_admin: bool = True,
    input_fn: Callable[[str], str] = input,
    output: Console | None = None,
    poster: Poster | None = None,
) -> int:
    """Read commands until exit or end of input; return how many were answered."""
    console = output if output is not None else make_console()
    role = "an admin" if is_admin else "not an admin"
    print_text(
        console,
        f"briefbot console: you are {user_id} ({role}) in {channel_id}. "
        "Type /brief help; exit or Ctrl-D leaves.",
        style="dim",
    )
    answered = 0
    while True:
        try:
            line = input_fn(PROMPT)
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        text = strip_prefix(line)
        if text.lower() in _LEAVE:
            break
        if not text and not line.strip():
            continue
        request = CommandRequest(
            user_id=user_id, channel_id=channel_id, text=text, is_admin=is_admin
        )
        reply = handle_command(runtime, request, poster=poster)
        print_slack_messages(console, reply.messages)
        console.print()
        answered += 1
    return answered


def strip_prefix(line: str) -> str:
    """The text after an optional leading `/brief` (any case), stripped."""
    text = line.strip()
    head, _, rest = text.partition(" ")
    if head.lower() == "/brief":
        return rest.strip()
    return text
