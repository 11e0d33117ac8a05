"""Fetch tracked Federal Register documents from the documents API, batched; store nothing.

`fetch_due` takes the tracked documents whose time has come
(`store.fr_documents.due`) and asks the API for them with the multi-document
form, `/documents/A,B,C.json?fields[]=...` (only the fields kept), at most
`batch_size` numbers a request, one request after another at least
`spacing` seconds apart (the API is a public service: no bursts). Every
request goes through bot/ingest/fetch like a feed's: the address guard, the
size cap, redirects checked hop by hop, the total timeout. No transaction is
open meanwhile; bot/ingest/fedreg/apply.py stores what came back.

Not obvious:
- Conditional requests: the API answers a batch URL with an ETag. Documents
  fetched together carry that ETag and come due together again, so they are
  batched together again (grouped by validator) and the request carries
  If-None-Match / If-Modified-Since; a 304 says none of them changed. A
  batch that mixes documents of different responses is asked unconditionally.
- The multi-document form answers `{count, results}`, with `errors.not_found`
  naming numbers it does not know; asked for one number it may answer the
  document itself. Both shapes are read.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.ingest.fedreg.facts import FederalRegisterFacts
from bot.models import FeedConfig, FeedState, FetchResult, Settings
from bot.store.ports import TrackedDocument

if TYPE_CHECKING:  # the fetcher is loaded by the fetch itself, not by importing this module
    from bot.ingest.fetch.client import FeedClient, Network

__all__ = ["FIELDS", "Batch", "BatchResult", "EnrichOptions", "batch_url", "fetch_due", "plan"]

#: The fields the enrichment keeps (FederalRegisterFacts.from_api reads these).
FIELDS = (
    "document_number",
    "type",
    "action",
    "title",
    "citation",
    "publication_date",
    "effective_on",
    "comments_close_on",
    "cfr_references",
    "docket_ids",
    "regulation_id_numbers",
    "significant",
    "agencies",
    "correction_of",
    "page_length",
    "pdf_url",
    "html_url",
    "full_text_xml_url",
)
#: The pseudo-feed id fetch errors and logs name.
API_FEED_ID = "federal-register-api"


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    """How much one enrichment run asks for, and how fast."""

    batch_size: int = 20
    max_batches: int = 10
    spacing: float = 1.0  # seconds between the starts of two requests


@dataclass(frozen=True, slots=True)
class Batch:
    """Documents asked for in one request; validators only when all of them share them."""

    documents: tuple[TrackedDocument, ...]
    etag: str | None = None
    last_modified: str | None = None

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(doc.document_number for doc in self.documents)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One request's outcome: facts by number when it worked, else the fetch's error."""

    batch: Batch
    fetch: FetchResult
    facts: Mapping[str, FederalRegisterFacts] = field(default_factory=dict)
    error: str | None = None  # a 200 whose body is not a documents response

    @property
    def ok(self) -> bool:
        return self.fetch.ok and self.error is None


def batch_url(base: str, numbers: Sequence[str]) -> str:
    """The multi-document URL for `numbers`, asking only for FIELDS."""
    joined = ",".join(quote(number, safe="-") for number in numbers)
    fields = "&".join(f"fields%5B%5D={name}" for name in FIELDS)
    return f"{base.rstrip('/')}/documents/{joined}.json?{fields}"


def plan(documents: Sequence[TrackedDocument], options: EnrichOptions) -> list[Batch]:
    """Batches of at most `batch_size`, documents sharing validators together, in number order."""
    groups: dict[tuple[str | None, str | None], list[TrackedDocument]] = {}
    for doc in documents:
        groups.setdefault((doc.etag, doc.last_modified), []).append(doc)
    batches: list[Batch] = []
    size = max(1, options.batch_size)
    for (etag, modified), group in groups.items():
        group.sort(key=lambda doc: doc.document_number)
        for start in range(0, len(group), size):
            batches.append(Batch(tuple(group[start : start + size]), etag, modified))
    return batches[: max(0, options.max_batches)]


def fetch_due(
    batches: Sequence[Batch],
    settings: Settings,
    *,
    network: Network,
    options: EnrichOptions,
) -> list[BatchResult]:
    """Fetch each batch in turn (see the module docstring); never raises for a failed fetch."""
    from bot.ingest.fetch.client import FeedClient, _run_coroutine

    async def run() -> list[BatchResult]:
        results: list[BatchResult] = []
        async with FeedClient(settings, resolver=network.resolver, policy=network.policy) as client:
            last_start: float | None = None
            for batch in batches:
                if last_start is not None:
                    wait = options.spacing - (time.monotonic() - last_start)
                    if wait > 0:
                        await asyncio.sleep(wait)
                last_start = time.monotonic()
                results.append(await _fetch_batch(client, batch, settings))
        return results

    return _run_coroutine(run)


async def _fetch_batch(client: FeedClient, batch: Batch, settings: Settings) -> BatchResult:
    url = batch_url(settings.federal_register_api, batch.numbers)
    feed = FeedConfig(id=API_FEED_ID, url=url, name="Federal Register documents API")
    state = FeedState(feed_id=API_FEED_ID, etag=batch.etag, last_modified=batch.last_modified)
    from bot.ingest.fetch.client import fetch_feed

    fetched = await fetch_feed(client, feed, state, settings)
    if not fetched.ok or fetched.not_modified:
        return BatchResult(batch, fetched)
    try:
        facts = read_documents(fetched.body)
    except ValueError as exc:
        return BatchResult(batch, fetched, error=f"documents API: {exc}")
    return BatchResult(batch, fetched, facts=facts)


def read_documents(body: bytes) -> dict[str, FederalRegisterFacts]:
    """The documents of a multi- or single-document response, by number; ValueError if none."""
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the answer is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, Mapping):
        raise ValueError("the answer is not a JSON object")
    documents = data.get("results") if "results" in data else [data]
    if not isinstance(documents, list):
        raise ValueError("results is not a list")
    found: dict[str, FederalRegisterFacts] = {}
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        try:
            facts = FederalRegisterFacts.from_api(document)
        except ValueError:
            continue
        found[facts.document_number] = facts
    if not found and not _names_not_found(data):
        raise ValueError("no document in the answer")
    return found


def _names_not_found(data: Mapping[str, Any]) -> bool:
    errors = data.get("errors")
    return isinstance(errors, Mapping) and bool(errors.get("not_found"))
