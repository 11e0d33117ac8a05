"""A loopback stand-in for Slack's response_url: records every JSON POST `respond()` makes.

Bolt answers a slash command's lazy listener through `respond()`, a POST of
the reply to the command's `response_url`. Tests give each command its own
URL (`url(name)`) and read what arrived with `replies(name)` or `wait(name)`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.loopback import LoopbackHandler, LoopbackServer

__all__ = ["Reply", "ResponseUrlServer"]


@dataclass(frozen=True)
class Reply:
    """One POST `respond()` made to the response_url."""

    path: str
    payload: dict[str, Any]

    @property
    def everything(self) -> str:
        """The text and every block, as one string to search in."""
        return json.dumps(self.payload, ensure_ascii=False)


class ResponseUrlServer(LoopbackServer):
    """Records every JSON POST, answers "ok" as Slack does; started on construction."""

    thread_name = "response-url"

    def __init__(self) -> None:
        super().__init__(_ResponseUrlHandler)
        self._changed = threading.Condition()
        self._replies: list[Reply] = []
        self.start()

    def url(self, name: str) -> str:
        return f"{self.origin}/commands/{name}"

    def record(self, reply: Reply) -> None:
        with self._changed:
            self._replies.append(reply)
            self._changed.notify_all()

    def replies(self, name: str | None = None) -> list[Reply]:
        with self._changed:
            return [r for r in self._replies if name is None or r.path == f"/commands/{name}"]

    def wait(self, name: str, count: int = 1, timeout: float = 10.0) -> list[Reply]:
        """The replies to `name` once there are `count` of them (asserts they came in time)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.replies(name)) >= count, timeout)
        replies = self.replies(name)
        assert len(replies) >= count, f"expected {count} replies at {name}, got {replies!r}"
        return replies


class _ResponseUrlHandler(LoopbackHandler):
    server: ResponseUrlServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.record(Reply(self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
