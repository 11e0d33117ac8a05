"""Federal Register state: documents waiting for (or watched by) the enrichment.

`TrackedDocument`: a document number the enrichment has to fetch (new items
of a feed with `enrich: federal-register`), or one it fetched whose dates are
still ahead and which it looks at again (a correction or an extension moves
them). Kept in state.json only while it is pending or has a date ahead, so
the table stays small; the facts themselves are on the items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

__all__ = ["TrackedDocument", "TrackedDocumentReader", "TrackedDocuments"]


@dataclass(frozen=True, slots=True)
class TrackedDocument:
    """A document the enrichment fetches when `next_attempt` comes.

    `items` are the stored items that link to it, as (feed id, item id).
    `enriched` is set once its facts were stored: it is then only looked at
    again while a date of it is ahead. `attempts` counts failures in a row
    (the poll's backoff applies); `etag` / `last_modified` are the validators
    of the last response that carried it, sent again when the same batch is
    asked for again. `api_dates` are (effective_on, comments_close_on) as the
    API last gave them: a later fetch that gives others moved them (an
    extension), while a correction's move of the stored dates stays.
    """

    document_number: str
    items: tuple[tuple[str, str], ...]
    next_attempt: datetime
    attempts: int = 0
    enriched: bool = False
    last_error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    api_dates: tuple[date | None, date | None] = (None, None)


class TrackedDocumentReader(Protocol):
    def get(self, document_number: str) -> TrackedDocument | None: ...

    def all(self) -> list[TrackedDocument]:
        """Every readable record, by next attempt then number; damaged ones skipped."""
        ...

    def due(self, now: datetime, *, limit: int) -> list[TrackedDocument]:
        """At most `limit` records whose next attempt has come, the longest waiting first."""
        ...


class TrackedDocuments(TrackedDocumentReader, Protocol):
    def put(self, document: TrackedDocument) -> None: ...

    def delete(self, document_number: str) -> None: ...
