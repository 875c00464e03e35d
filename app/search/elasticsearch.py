"""Elasticsearch as the SearchBackend: query_string over every event's alias, an outbox to index.

``index`` only writes outbox rows, in the caller's transaction; ``flush_outbox`` (run by
every worker's housekeeping thread) sends them in bulk and forgets each row only once
Elasticsearch acknowledged it, so an outage delays search but loses nothing.
``search`` sends the parsed query re-rendered by ``es_query`` (why: see there), sorted
by log_id descending and paged with ``search_after``, never from/size. The mapping and
its limits against the contract are in ``es_mapping``, index versions and the alias
swap in ``es_indices``, flushing in ``es_flush``, rebuilding in ``es_rebuild``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from elasticsearch import ApiError, Elasticsearch, TransportError

from app.extensions import db
from app.search import es_flush, es_indices, es_mapping, es_outbox, es_query
from app.search.backend import LogDocument, ParsedQuery
from app.search.es_flush import FlushResult
from app.services import settings

T = TypeVar("T")
BATCH = 500  # documents per bulk request
_PREFIX = re.compile(r"[a-z0-9][a-z0-9._-]*")


class SearchUnavailable(RuntimeError):
    """Elasticsearch did not answer, or refused a whole request; nothing was changed."""


class Progress(Protocol):
    """What ``rebuild`` reports to (a tqdm bar fits)."""

    def reset(self, total: float | None = None) -> None: ...
    def update(self, n: float = 1) -> bool | None: ...


class ElasticsearchBackend:
    """Delivery logs in one index per event, searched through ``{prefix}_async_event_*``."""

    name = "elasticsearch"

    def __init__(self, url: str, prefix: str = "async_events", timeout: float = 10.0) -> None:
        if not url:
            raise ValueError("ELASTICSEARCH_URL is empty: set it to use Elasticsearch")
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(
                f"SEARCH_INDEX_PREFIX must be lower-case letters, digits, '.', '_' or '-' "
                f"(Elasticsearch index names), got {prefix!r}"
            )
        if timeout <= 0:
            raise ValueError(f"ELASTICSEARCH_TIMEOUT must be positive, got {timeout!r}")
        self.url, self.prefix = url, prefix
        self.pattern = es_mapping.search_pattern(prefix)
        # Nothing connects here: the client opens connections on its first request.
        self.client = Elasticsearch(url, request_timeout=timeout, max_retries=1)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ElasticsearchBackend:
        """The backend ``ELASTICSEARCH_URL``, ``SEARCH_INDEX_PREFIX`` and the timeout describe."""
        return cls(
            config["ELASTICSEARCH_URL"],
            config.get("SEARCH_INDEX_PREFIX") or "async_events",
            float(config.get("ELASTICSEARCH_TIMEOUT") or 10.0),
        )

    def index(self, documents: Sequence[LogDocument]) -> None:
        """Queue documents in the caller's transaction, unless indexing is disabled."""
        if documents and settings.get("indexing_enabled"):
            es_outbox.enqueue(documents)

    def search(self, query: ParsedQuery, limit: int, before_log_id: int | None = None) -> list[int]:
        """Matching log_ids, newest first, below ``before_log_id``; pages past 10 000 too."""
        now, ids, before = datetime.now(UTC), [], before_log_id
        while len(ids) < limit:
            size = min(limit - len(ids), es_query.MAX_PAGE)
            body = es_query.search_body(query.ast, now, size, before)
            response = self._call(self.client.search, index=self.pattern, body=body)
            page = [int(hit["_id"]) for hit in response["hits"]["hits"]]
            ids += page
            if len(page) < size:
                break
            before = page[-1]
        return ids

    def count(self, query: ParsedQuery) -> int:
        """How many log rows match."""
        body = {"query": es_query.query_string(query.ast, datetime.now(UTC))}
        return int(self._call(self.client.count, index=self.pattern, body=body)["count"])

    def flush_outbox(self, limit: int = BATCH) -> FlushResult:
        """Send up to ``limit`` outbox rows; raise SearchUnavailable (rows untouched) if down."""
        if not settings.get("indexing_enabled"):
            db.session.commit()
            return FlushResult()
        return self._call(es_flush.flush, self.client, self.prefix, limit)

    def rebuild(self, event_name: str | None = None, progress: Progress | None = None) -> int:
        """Rebuild each event's index (or one) into a new version; return documents indexed."""
        from app.search.es_rebuild import rebuild

        return self._call(rebuild, self, event_name, progress)

    def refresh(self) -> None:
        """Make every indexed document searchable now (tests; Elasticsearch does it each second)."""
        self._call(self.client.indices.refresh, index=self.pattern, expand_wildcards="all")

    def delete_indices(self) -> None:
        """Delete every index of this prefix (tests, or leaving Elasticsearch)."""
        get_alias = self.client.indices.get_alias
        found = self._call(get_alias, index=self.pattern, expand_wildcards="all")
        self._call(es_indices.delete, self.client, found.body)

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Elasticsearch interaction; an outage or refusal becomes SearchUnavailable."""
        try:
            return function(*args, **kwargs)
        except (ApiError, TransportError) as exc:
            raise SearchUnavailable(f"Elasticsearch at {self.url}: {exc}") from exc
