"""The SearchBackend contract: how search services talk to the embedded index or Elasticsearch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.search.lucene.ast import Query

OUTBOX_BATCH = 500  # documents per bulk request to an external engine


class SearchUnavailable(RuntimeError):
    """The external engine (Elasticsearch) did not answer, or refused a whole request;
    nothing was changed."""


@dataclass(frozen=True)
class LogDocument:
    """What a backend indexes for one delivery log row (the contract's document fields)."""

    log_id: int
    subscription_id: int
    uuid: str | None
    event_name: str
    success: bool
    created: str  # "yyyy-MM-dd HH:mm:ss", UTC
    response_data: str
    data: Any  # decoded serialized_data (None if absent or not JSON)


@dataclass(frozen=True)
class ParsedQuery:
    """A query as typed (for Elasticsearch) and as parsed (for the SQL index)."""

    text: str
    ast: Query


class Progress(Protocol):
    """What a backend's ``rebuild`` reports to (a tqdm bar fits)."""

    def reset(self, total: float | None = None) -> None: ...
    def update(self, n: float = 1) -> bool | None: ...


class SearchBackend(Protocol):
    """A place where delivery logs are indexed and searched with the same semantics."""

    name: str

    def index(self, documents: Sequence[LogDocument]) -> None:
        """Make these documents searchable.

        Called inside the transaction that writes the log rows: the embedded
        backend writes its index rows there; Elasticsearch writes outbox rows.
        """

    def search(self, query: ParsedQuery, limit: int, before_log_id: int | None = None) -> list[int]:
        """Matching log_ids, newest (highest) first, all below ``before_log_id`` if given."""

    def count(self, query: ParsedQuery) -> int:
        """How many log rows match."""
