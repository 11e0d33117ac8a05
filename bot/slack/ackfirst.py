"""`/brief` over HTTP acknowledged before Bolt sees it; Bolt gets it on a thread of its own.

`CommandRelay.put` takes a slash command that `bot.slack.http` has verified
(signature, timestamp, the shape of a `/brief`) and returns at once: the
request thread answers Slack's HTTP request with an empty 200, which is all
the listener's `ack()` would have sent. The relay's one thread then hands the
command to Bolt in arrival order (`App.dispatch`: its middleware, the drop of
repeats, the listener, whose ack answer goes nowhere, and the lazy listener
that does the work and replies through the `response_url`).

Not obvious:
- Why: the acknowledgement has 3 s, and in a busy process every step it
  takes waits for the GIL behind the command work, a poll and a digest. Bolt's
  dispatch (its middleware, listener matching, the copy of the request its
  lazy listener gets, the replicas' `first_sight` query) cost more than the
  rest of the ack together; now the ack is a signature check, a form parse
  and a queue put, and nothing it does waits for Bolt, the store or the work.
- Nothing is lost by answering first: whatever Bolt would have put in the
  HTTP answer (a body: a message for the user, such as "reinstall this
  app") is posted to the command's `response_url` instead; an error is
  logged, and the user gets `APOLOGY` there.
- Socket Mode does the same (bot/slack/socketmode.py): a `/brief` envelope
  is acknowledged on the thread that receives it, and `relay_answer` tells
  the user what Bolt answered, if anything.
- `stop()` hands Bolt every command already acknowledged before it returns,
  so `ServerHandle.stop` lets their replies finish.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_sdk.webhook import WebhookClient

from bot.slack.app import APOLOGY, BriefbotApp

__all__ = ["CommandRelay", "relay_answer"]

log = logging.getLogger(__name__)


class _Command:
    """One acknowledged command: the request for Bolt and the URL its reply goes to."""

    __slots__ = ("make_request", "response_url")

    def __init__(self, make_request: Callable[[], BoltRequest], response_url: str) -> None:
        self.make_request = make_request
        self.response_url = response_url


_STOP = object()


class CommandRelay:
    """Hands acknowledged `/brief` commands to Bolt, in order, from a thread of its own."""

    def __init__(self, app: BriefbotApp) -> None:
        self._app = app
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="briefbot-slack-relay", daemon=True)
        self._thread.start()

    def put(self, make_request: Callable[[], BoltRequest], response_url: str) -> None:
        """Queue a command (verified, and acknowledged by the caller) for Bolt.

        `make_request` builds Bolt's request, on the relay's thread: not even
        that is done before the ack.
        """
        self._queue.put(_Command(make_request, response_url))

    def stop(self, timeout: float) -> None:
        """Hand Bolt what was queued (up to `timeout` s), then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("stopping with acknowledged /brief commands not yet handed to Bolt")

    def _run(self) -> None:
        while True:
            command = self._queue.get()
            if command is _STOP:
                return
            self._dispatch(command)

    def _dispatch(self, command: _Command) -> None:
        self._app.acks.let_acks_go_first()
        try:
            response = self._app.dispatch(command.make_request())
        except Exception:
            log.exception("Bolt failed on an acknowledged /brief")
            response = BoltResponse(status=500, body=APOLOGY)
        relay_answer(response, command.response_url)


def relay_answer(response: BoltResponse, response_url: str) -> None:
    """What Bolt answered an already acknowledged `/brief`, told to the user if anything.

    An empty 200 (the usual: the lazy listener replies) needs nothing; a body
    is posted to the response_url; an error is logged and the user gets APOLOGY.
    """
    if response.status == 200 and not response.body:
        return
    text = response.body if response.status == 200 else APOLOGY
    if response.status != 200:
        log.warning("Bolt answered an acknowledged /brief with HTTP %d", response.status)
    _tell(response_url, text)


def _tell(response_url: str, text: str) -> None:
    """Post `text` to the command's response_url (never raises)."""
    if not response_url:
        return
    try:
        WebhookClient(response_url, timeout=10).send(text=text, response_type="ephemeral")
    except Exception as exc:
        log.warning("could not send a /brief reply: %s", type(exc).__name__)
