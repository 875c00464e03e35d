"""An external cluster as the SearchBackend: query_string over every event's alias, an outbox.

The engine is detected on first use (``handshake``; the app also tries at start-up)
and the matching client chosen (``transport``). Until a handshake succeeds, every
call raises SearchUnavailable saying why (unreachable, credentials refused, TLS,
an unsupported version, settings that cannot work), and the handshake is tried again
at most every ``retry_seconds``; ``status`` reports the same for /healthz and the
dashboard. Nothing here ever raises at start-up.

``index`` only writes outbox rows, in the caller's transaction; ``flush_outbox`` (run by
every worker's housekeeping thread) sends them in bulk and forgets each row only once
the cluster acknowledged it, so an outage delays search but loses nothing. ``search``
sends the parsed query re-rendered by ``query`` (why: see there), sorted by log_id
descending and paged with ``search_after``; ``count`` is a ``_search`` of size 0 that
tracks total hits, because ``_count`` takes no ``timeout``. Each search carries the time
left of its deadline twice: as the search's own ``timeout``, which the engines honour
by answering ``timed_out: true`` with partial hits (refused: SearchTimeout), and,
``GRACE`` later, as the client's request timeout, for a cluster that does not stop.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from app import settings
from app.extensions import db
from app.search import budget
from app.search.backend import OUTBOX_BATCH as BATCH
from app.search.backend import LogDocument, ParsedQuery, Progress, SearchUnavailable
from app.search.cost import QueryTooCostly
from app.search.external import flush as es_flush
from app.search.external import indices as es_indices
from app.search.external import mapping as es_mapping
from app.search.external import outbox as es_outbox
from app.search.external import query as es_query
from app.search.external.config import ClusterConfig
from app.search.external.engines import Engine, UnsupportedEngine, too_many_clauses
from app.search.external.flush import FlushResult
from app.search.external.handshake import HandshakeFailed, detect
from app.search.external.rebuild import RebuildReport, rebuild
from app.search.external.transport import (
    ClusterError,
    ClusterTimedOut,
    ClusterUnreachable,
    Rest,
    connect,
)

T = TypeVar("T")
GRACE = 1.0  # s the client waits for an answer beyond the search's own timeout
HANDSHAKE_SECONDS = 5.0  # at most, for the root endpoint's answer
_PREFIX = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True)
class ClusterStatus:
    """What /healthz and the dashboard say of the external cluster."""

    url: str
    engine: str | None  # "OpenSearch 2.19.1", once identified
    problem: str | None  # why it cannot be used now, if it cannot


class ExternalBackend:
    """Delivery logs in one index per event, searched through ``{prefix}_async_event_*``."""

    name = "external"

    def __init__(self, config: ClusterConfig, prefix: str, retry_seconds: float = 15.0) -> None:
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(
                f"SEARCH_INDEX_PREFIX must be lower-case letters, digits, '.', '_' or '-' "
                f"(index names), got {prefix!r}"
            )
        self.config, self.prefix, self.retry_seconds = config, prefix, retry_seconds
        self.url, self.timeout = config.shown, config.timeout
        self.pattern = es_mapping.search_pattern(prefix)
        self._lock = threading.Lock()
        self._rest: Rest | None = None
        self._failed: tuple[float, str] | None = None  # (monotonic time, why)

    @property
    def rest(self) -> Rest:
        """The client for the detected engine; SearchUnavailable until one answers."""
        rest = self._rest
        if rest is not None:
            return rest
        with self._lock:
            if self._rest is None:
                self._rest = self._handshake()
            return self._rest

    def connect(self) -> ClusterStatus:
        """Identify the engine now (start-up); never raises."""
        with contextlib.suppress(SearchUnavailable):
            self.rest  # noqa: B018 - the property performs the handshake
        return self.status()

    def status(self) -> ClusterStatus:
        """The engine if identified, else why not (no new handshake)."""
        rest = self._rest
        if rest is not None:
            return ClusterStatus(self.url, rest.engine.label, None)
        why = self._failed[1] if self._failed else "not contacted yet"
        return ClusterStatus(self.url, None, why)

    @property
    def engine(self) -> Engine | None:
        """The identified engine, None before a handshake succeeded."""
        return self._rest.engine if self._rest is not None else None

    def index(self, documents: Sequence[LogDocument]) -> None:
        """Queue documents in the caller's transaction, unless indexing is disabled."""
        self.queue((d.log_id, d.event_name) for d in documents)

    def queue(self, rows: Iterable[tuple[int, str]]) -> None:
        """Queue ``(log_id, event_name)`` in the caller's transaction, unless indexing is
        disabled; the flush reads each log row then."""
        if settings.get("indexing_enabled"):
            es_outbox.enqueue(rows)

    def search(self, query: ParsedQuery, limit: int, before_log_id: int | None = None) -> list[int]:
        """Matching log_ids, newest first, below ``before_log_id``; pages past 10 000 too."""
        now, ids, before = datetime.now(UTC), [], before_log_id
        while len(ids) < limit:
            size = min(limit - len(ids), es_query.MAX_PAGE)
            response = self._search(es_query.search_body(query.ast, now, size, before))
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
        return self._call(es_flush.flush, self.prefix, limit)

    def rebuild(self, event_name: str | None = None, progress: Progress | None = None) -> int:
        """Rebuild each event's index (or one); documents indexed. An event that fails
        leaves its old index live and the others go on; then SearchUnavailable names it."""
        report: RebuildReport = self._call(rebuild, self.prefix, event_name, progress)
        if report.failed:
            failed = "; ".join(f"{key}: {why}" for key, why in sorted(report.failed.items()))
            raise SearchUnavailable(
                f"{len(report.failed)} event index(es) kept their old version "
                f"({report.indexed} documents indexed for the others): {failed}"
            )
        return report.indexed

    def refresh(self) -> None:
        """Make every indexed document searchable now (tests; the engines do it each second)."""
        self._call(
            lambda rest: rest.request(
                "POST", es_indices.path(self.pattern, "_refresh"), params=es_indices.EVERY_INDEX
            )
        )

    def delete_indices(self) -> None:
        """Delete every index of this prefix (tests, or leaving the cluster)."""
        self._call(lambda rest: es_indices.delete(rest, es_indices.aliases(rest, self.prefix)))

    def _handshake(self) -> Rest:
        failed = self._failed
        if failed is not None and time.monotonic() - failed[0] < self.retry_seconds:
            raise SearchUnavailable(self._unavailable(failed[1]))
        try:
            engine = detect(self.config, min(self.timeout, HANDSHAKE_SECONDS))
        except (HandshakeFailed, UnsupportedEngine) as exc:
            self._failed = (time.monotonic(), str(exc))
            raise SearchUnavailable(self._unavailable(str(exc))) from None
        self._failed = None
        return connect(self.config, engine)

    def _unavailable(self, why: str) -> str:
        return f"external search at {self.url} is unavailable: {why}"

    def _search(self, body: dict[str, Any]) -> Any:
        """One ``_search`` within the deadline; SearchTimeout if it is not answered in full."""
        deadline = budget.current() or budget.Deadline(
            time.monotonic() + self.timeout, self.timeout
        )
        rest = self.rest
        left = deadline.remaining()
        if left <= 0:
            raise deadline.timeout()
        body = {**body, "timeout": f"{max(1, int(left * 1000))}ms"}
        target = es_indices.path(self.pattern, "_search")
        try:
            response = rest.request("POST", target, body=body, timeout=left + GRACE)
        except ClusterTimedOut:
            raise deadline.timeout() from None
        except ClusterError as exc:
            if too_many_clauses(exc.status, exc.body):
                raise QueryTooCostly(
                    f"{rest.engine.label} refused the query: it has more clauses than the "
                    "cluster's maxClauseCount allows (set SEARCH_MAX_CLAUSES at or below it)"
                ) from None
            raise SearchUnavailable(self._unavailable(str(exc))) from None
        except ClusterUnreachable as exc:
            raise SearchUnavailable(self._unavailable(str(exc))) from None
        if response.get("timed_out"):
            raise deadline.timeout()  # what it found so far is not every match
        return response

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run one interaction with the cluster; an outage or refusal is SearchUnavailable."""
        rest = self.rest
        try:
            return function(rest, *args)
        except (ClusterError, ClusterUnreachable) as exc:
            raise SearchUnavailable(self._unavailable(str(exc))) from exc
