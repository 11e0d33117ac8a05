"""A loopback OpenAI-compatible chat-completions endpoint, for the optional language model.

`ChatServer` answers `POST /v1/chat/completions` as OpenAI's API and the
servers that copy it (vLLM, llama.cpp, Ollama, company gateways) do: a
`chat.completion` object whose `choices[0].message.content` is the reply.
The test sets what it says (`reply`) or how it misbehaves: `delay` (a slow
answer, waited on the server's `stopping` event so `stop()` never hangs),
`status` (an HTTP error with an error object, as OpenAI sends), `body` (raw
bytes instead of the JSON: garbage), `trickle` (the body a few bytes at a
time, each after that many seconds). It checks the bearer key when one is
set (401 otherwise) and records every request (headers and JSON body), so
tests can assert what the bot sent.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.loopback import LoopbackHandler, LoopbackServer

__all__ = ["PATH", "ChatRequest", "ChatServer", "completion"]

PATH = "/v1/chat/completions"


def completion(content: str, model: str = "test-model") -> dict[str, Any]:
    """A chat-completions reply carrying `content`, shaped as OpenAI's."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


@dataclass(frozen=True)
class ChatRequest:
    path: str
    headers: dict[str, str]
    payload: Any  # the JSON body (None when it was not JSON)

    @property
    def user_text(self) -> str:
        """The user message's text (what the bot says of the items)."""
        messages = self.payload["messages"] if isinstance(self.payload, dict) else []
        return "\n".join(m["content"] for m in messages if m.get("role") == "user")


class ChatServer(LoopbackServer):
    thread_name = "chatserver"

    def __init__(self, key: str | None = None) -> None:
        super().__init__(_Handler)
        self.key = key
        self.lock = threading.Lock()
        self.reply = "Nothing to say [1]."
        self.delay = 0.0
        self.status = 200
        self.body: bytes | None = None
        self.trickle: float | None = None
        self.requests: list[ChatRequest] = []
        self.answered = threading.Event()  # set once a request has been answered or dropped

    @property
    def url(self) -> str:
        return f"{self.origin}{PATH}"

    def respond(self, request: ChatRequest) -> tuple[int, bytes]:
        with self.lock:
            self.requests.append(request)
            if self.key is not None and request.headers.get("authorization") != (
                f"Bearer {self.key}"
            ):
                return 401, _error("Incorrect API key provided", "invalid_api_key")
            if request.path != PATH:
                return 404, _error("Not found", "not_found")
            if self.status != 200:
                return self.status, _error("The server had an error", "server_error")
            if self.body is not None:
                return 200, self.body
            return 200, json.dumps(completion(self.reply)).encode()


def _error(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()


class _Handler(LoopbackHandler):
    server: ChatServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, body = self.server.respond(ChatRequest(self.path, headers, payload))
        try:
            if self.server.delay and self.server.stopping.wait(self.server.delay):
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.server.trickle is None:
                self.wfile.write(body)
                return
            for start in range(0, len(body), 4):
                if self.server.stopping.wait(self.server.trickle):
                    return
                self.wfile.write(body[start : start + 4])
                self.wfile.flush()
        finally:
            self.server.answered.set()
