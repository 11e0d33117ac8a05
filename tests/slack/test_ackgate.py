"""The acks-first gate (bot/slack/ackgate.py): work waits for the requests ahead of it."""

from __future__ import annotations

import threading

from bot.slack.ackgate import AckGate


def test_work_goes_at_once_when_every_request_was_answered() -> None:
    gate = AckGate()
    gate.arrived()
    gate.answered()

    assert gate.let_acks_go_first(most=0) is True


def test_work_waits_for_the_requests_ahead_and_no_longer_than_told() -> None:
    gate = AckGate()
    for _ in range(3):
        gate.arrived()
    gate.answered()

    assert gate.let_acks_go_first(most=0) is False  # two still unanswered: it gave up waiting

    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(gate.let_acks_go_first(most=30)))
    waiter.start()
    gate.answered()
    gate.answered()
    waiter.join(timeout=30)
    assert outcome == [True]
