"""Elasticsearch as the SearchBackend: query_string over every event's alias, an outbox to index.

``index`` only writes outbox rows, in the caller's transaction; ``flush_outbox`` (run by
every worker's housekeeping thread) sends them in bulk and forgets each row only once
Elasticsearch acknowledged it, so an outage delays search but loses nothing.
``search`` sends the parsed query re-rendered by ``query`` (why: see there), sorted
by log_id descending and paged with ``search_after``, never from/size; ``count`` is a
``_search`` of size 0 that tracks total hits, because ``_count`` takes no ``timeout``.
Each of these requests carries the time left of the search's deadline
(``budget.current()``, else ``ELASTICSEARCH_TIMEOUT``) twice: as the search's own
``timeout``, which Elasticsearch honours by stopping and answering ``timed_out: true``
with what it found so far (an answer we refuse: SearchTimeout), and, ``GRACE`` later,
as the client's ``request_timeout``, for a cluster that does not stop in time. The
mapping and its limits against the contract are in ``mapping``, index versions and
the alias swap in ``indices``, flushing in ``flush``, rebuilding in ``rebuild``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch, TransportError
from urllib3.exceptions import ReadTimeoutError

from app import settings
from app.extensions import db
from app.search import budget
from app.search.backend import OUTBOX_BATCH as BATCH
from app.search.backend import LogDocument, ParsedQuery, Progress, SearchUnavailable
from app.search.cost import QueryTooCostly
from app.search.elasticsearch import flush as es_flush
from app.search.elasticsearch import indices as es_indices
from app.search.elasticsearch import mapping as es_mapping
from app.search.elasticsearch import outbox as es_outbox
from app.search.elasticsearch import query as es_query
from app.search.elasticsearch.flush import FlushResult
from app.search.elasticsearch.rebuild import rebuild

T = TypeVar("T")
GRACE = 1.0  # s the client waits for an answer beyond the search's own timeout
_PREFIX = re.compile(r"[a-z0-9][a-z0-9._-]*")


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
        self.url, self.prefix, self.timeout = url, prefix, timeout
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
            response = self._search(body)
            page = [int(hit["_id"]) for hit in response["hits"]["hits"]]
            ids += page
            if len(page) < size:
                break
            before = page[-1]
        return ids

    def count(self, query: ParsedQuery) -> int:
        """How many log rows match."""
        body = es_query.count_body(query.ast, datetime.now(UTC))
        return int(self._search(body)["hits"]["total"]["value"])

    def flush_outbox(self, limit: int = BATCH) -> FlushResult:
        """Send up to ``limit`` outbox rows; raise SearchUnavailable (rows untouched) if down."""
        if not settings.get("indexing_enabled"):
            db.session.commit()
            return FlushResult()
        return self._call(es_flush.flush, self.client, self.prefix, limit)

    def rebuild(self, event_name: str | None = None, progress: Progress | None = None) -> int:
        """Rebuild each event's index (or one) into a new version; return documents indexed."""
        return self._call(rebuild, self.client, self.prefix, event_name, progress)

    def refresh(self) -> None:
        """Make every indexed document searchable now (tests; Elasticsearch does it each second)."""
        self._call(self.client.indices.refresh, index=self.pattern, expand_wildcards="all")

    def delete_indices(self) -> None:
        """Delete every index of this prefix (tests, or leaving Elasticsearch)."""
        get_alias = self.client.indices.get_alias
        found = self._call(get_alias, index=self.pattern, expand_wildcards="all")
        self._call(es_indices.delete, self.client, found.body)

    def _search(self, body: dict[str, Any]) -> Any:
        """One ``_search`` within the deadline; SearchTimeout if it is not answered in full."""
        deadline = budget.current() or budget.Deadline(
            time.monotonic() + self.timeout, self.timeout
        )
        left = deadline.remaining()
        if left <= 0:
            raise deadline.timeout()
        body = {**body, "timeout": f"{max(1, int(left * 1000))}ms"}
        client = self.client.options(request_timeout=left + GRACE)
        try:
            response = client.search(index=self.pattern, body=body)
        except (ApiError, TransportError) as exc:
            raise self._refusal(exc, deadline) from exc
        if response.get("timed_out"):
            raise deadline.timeout()  # what it found so far is not every match
        return response

    def _refusal(self, exc: ApiError | TransportError, deadline: budget.Deadline) -> Exception:
        """What a search request that failed means: the query's cost, or an outage.

        No answer within the request timeout, once sent, is the deadline passing; a 400
        for too many clauses (the cluster's own maxClauseCount, below SEARCH_MAX_CLAUSES)
        is the query's fault. Anything else is SearchUnavailable.
        """
        if isinstance(exc, ConnectionTimeout):
            if any(isinstance(e, ReadTimeoutError) for e in (*exc.errors, exc.__cause__)):
                return deadline.timeout()
        elif isinstance(exc, ApiError) and exc.status_code == 400 and "too_many" in str(exc.body):
            return QueryTooCostly(
                "Elasticsearch refused the query: it has more clauses than the cluster's "
                "maxClauseCount allows (set SEARCH_MAX_CLAUSES at or below it)"
            )
        return SearchUnavailable(f"Elasticsearch at {self.url}: {exc}")

    def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one Elasticsearch interaction; an outage or refusal becomes SearchUnavailable."""
        try:
            return function(*args, **kwargs)
        except (ApiError, TransportError) as exc:
            raise SearchUnavailable(f"Elasticsearch at {self.url}: {exc}") from exc
