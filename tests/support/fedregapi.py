"""A loopback Federal Register documents API, answering as the recorded responses do.

`DocumentsApi` serves `/api/v1/documents/A,B,C.json?fields[]=...` from
recorded documents (tests/fixtures/fedreg/): the multi-document shape
`{"count", "results"}` with only the fields asked for, `errors.not_found`
for numbers it does not hold, `Content-Type: application/json;
charset=utf-8` and a quoted MD5 ETag as the real API sends
(fr_api_vcr_multi_document_2017.yml), and 304 to a matching If-None-Match.
`add_recorded` replays a recorded exchange's body and headers verbatim.

Misbehaviour on purpose: `fail_next` (statuses answered before the real
answer, e.g. one 500), `delay` (a slow answer). Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests.support.loopback import LoopbackHandler, LoopbackServer

__all__ = ["FIXTURES", "DocumentsApi", "Request", "recorded_documents"]

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fedreg"
PREFIX = "/api/v1/documents/"


def recorded_documents() -> dict[str, dict[str, Any]]:
    """Every recorded document of tests/fixtures/fedreg/, by number."""
    found: dict[str, dict[str, Any]] = {}
    six = json.loads((FIXTURES / "documents_2024-01_six.json").read_text())
    for doc in six["results"]:
        found[doc["document_number"]] = doc
    single = json.loads((FIXTURES / "fr_api_single_document_2024-31396.json").read_text())
    found[single["document_number"]] = single
    return found


@dataclass(frozen=True)
class Request:
    path: str
    numbers: tuple[str, ...]
    fields: tuple[str, ...]
    headers: Mapping[str, str]


class DocumentsApi(LoopbackServer):
    thread_name = "fedregapi"

    def __init__(self, documents: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__(_Handler)
        self.lock = threading.Lock()
        self.documents: dict[str, dict[str, Any]] = {
            number: dict(doc) for number, doc in (documents or {}).items()
        }
        # By the set of numbers asked for: the API answers them in any order.
        self.recorded: dict[frozenset[str], tuple[int, dict[str, str], bytes]] = {}
        self.fail_next: list[int] = []
        self.delay = 0.0
        self.requests: list[Request] = []

    @property
    def base(self) -> str:
        return f"{self.origin}/api/v1/"

    def add_recorded(self, cassette: Path) -> None:
        """Answer each recorded request's path with its recorded status, headers and body."""
        data = yaml.safe_load(cassette.read_text())
        for exchange in data["http_interactions"]:
            path = urlsplit(exchange["request"]["uri"]).path
            response = exchange["response"]
            headers = {
                name: values[0]
                for name, values in response["headers"].items()
                if name in ("content-type", "etag", "date")
            }
            body = response["body"]["string"].encode()
            if path.startswith(PREFIX):
                self.recorded[frozenset(_numbers(path))] = (
                    response["status"]["code"],
                    headers,
                    body,
                )

    def set_dates(self, number: str, **dates: str | None) -> None:
        with self.lock:
            self.documents[number].update(dates)

    def answer(self, path: str, query: str) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            if self.fail_next:
                return self.fail_next.pop(0), {"Content-Type": "text/html"}, b"<h1>oops</h1>"
            numbers = _numbers(path)
            if frozenset(numbers) in self.recorded:
                return self.recorded[frozenset(numbers)]
            fields = parse_qs(query).get("fields[]", [])
            found = [
                {k: v for k, v in self.documents[n].items() if not fields or k in fields}
                for n in numbers
                if n in self.documents
            ]
            missing = [n for n in numbers if n not in self.documents]
        payload: dict[str, Any] = {"count": len(found), "results": found}
        if missing:
            payload["errors"] = {"not_found": missing}
        body = json.dumps(payload).encode()
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        return 200, {"Content-Type": "application/json; charset=utf-8", "ETag": etag}, body


def _numbers(path: str) -> tuple[str, ...]:
    name = unquote(path[len(PREFIX) :]).removesuffix(".json")
    return tuple(n for n in name.split(",") if n)


class _Handler(LoopbackHandler):
    server: DocumentsApi

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if self.server.delay:
            self.server.stopping.wait(self.server.delay)
        if not parts.path.startswith(PREFIX):
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return
        fields = tuple(parse_qs(parts.query).get("fields[]", []))
        request = Request(parts.path, _numbers(parts.path), fields, dict(self.headers.items()))
        with self.server.lock:
            self.server.requests.append(request)
        status, headers, body = self.server.answer(parts.path, parts.query)
        etag = next((v for k, v in headers.items() if k.lower() == "etag"), None)
        if status == 200 and etag is not None and self.headers.get("If-None-Match") == etag:
            self._send(304, {"ETag": etag}, b"")
            return
        self._send(status, headers, body)

    def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)
