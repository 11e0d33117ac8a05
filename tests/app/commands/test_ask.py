"""`/brief ask` and plain-words lines: answered by the answering stage, citing stored items.

The store holds (tests/app/commands/cases.py) one item from three days ago
(rare earths, stored by the first poll) and three from the last half hour.
The full question suite is tests/brief/ask/test_question_suite.py.
"""

from __future__ import annotations

from bot.app.runtime import Runtime
from tests.app.commands.cases import run


def test_ask_says_what_it_understood_counts_and_cites(runtime: Runtime) -> None:
    reply = run(runtime, "ask what's new on the entity list today?")
    lines = reply.split("\n")
    assert lines[0].startswith("1 item [1]: items from ")
    assert lines[0].endswith("(today) on the topic entity-list.")
    assert "By topic: entity-list 1 [1]" in reply
    assert "[1] BIS adds 36 entities to the Entity List" in reply
    assert "Rare earth" not in reply


def test_a_plain_words_line_is_a_question_too(runtime: Runtime) -> None:
    asked = run(runtime, "ask anything on rare earth exports in the last 7 days")
    plain = run(runtime, "anything on rare earth exports in the last 7 days")
    assert plain == asked
    assert plain.startswith("1 item [1]: items from ")
    assert "(in the last 7 days) on “rare earth exports”." in plain
    assert "[1] Rare earth export quotas unchanged" in plain


def test_the_previous_period_is_counted_and_cited(runtime: Runtime) -> None:
    # The last 2 days: the three new items; the 2 days before: the one from 3 days ago.
    reply = run(runtime, "ask what came in the last 2 days")
    assert reply.startswith("3 items [1][2][3]: items from ")
    assert "(in the last 2 days), every subject." in reply
    assert ": 1 item [4] (change: +2)." in reply
    assert "[4] Rare earth export quotas unchanged" in reply


def test_ask_without_a_question_shows_how(runtime: Runtime) -> None:
    reply = run(runtime, "ask")
    assert reply.startswith("ask a question, as in /brief ask what did BIS publish this week?")
    assert "Usage: /brief ask <question>" in reply


def test_a_query_in_syntax_is_still_a_search(runtime: Runtime) -> None:
    reply = run(runtime, '"entity list" since:30d')
    assert reply.startswith('1 result for “"entity list" since:30d”')
