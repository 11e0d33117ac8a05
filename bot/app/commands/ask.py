"""`/brief ask <question>`, and any `/brief` line in plain words that names no sub-command.

Both are answered by `bot.app.questions` (an extractive briefing of the
period's items, citing them). A line in query syntax (quotes, AND/OR/NOT,
`-word`, `word*`, `feed:`/`tag:`/`since:`/`before:`) that names no
sub-command stays a search (`search.question`). A question whose first word
is a near-miss of a sub-command's name and finds nothing suggests it ("Did
you mean /brief subscribe?").
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from bot.app.commands.session import CommandError, Session
from bot.app.commands.words import Word, joined
from bot.app.questions import answer_question
from bot.models import SlackMessage
from bot.render.blocks import pack_messages

__all__ = ["ask", "question"]


def ask(session: Session, args: list[Word]) -> list[SlackMessage]:
    """`/brief ask <question>`: the answer to a question in plain words."""
    if not args:
        raise CommandError(
            "ask a question, as in /brief ask what did BIS publish this week?", "ask"
        )
    return _answer(session, joined(args))


def question(session: Session, args: list[Word], *, verbs: Collection[str]) -> list[SlackMessage]:
    """A line in plain words that names no sub-command; `verbs` for a typo's suggestion."""
    messages, total = _answered(session, joined(args))
    close = difflib.get_close_matches(args[0].text.lower(), list(verbs), n=1, cutoff=0.75)
    if total == 0 and close:
        note = f"Did you mean /brief {close[0]}? /brief help lists the commands."
        messages = pack_messages(messages + session.notice(note))
    return messages


def _answer(session: Session, text: str) -> list[SlackMessage]:
    return _answered(session, text)[0]


def _answered(session: Session, text: str) -> tuple[list[SlackMessage], int]:
    runtime = session.runtime
    answer = answer_question(runtime, text, user_id=session.request.user_id, feeds=session.feeds)
    return runtime.renderer.render_answer(answer), answer.total.count
