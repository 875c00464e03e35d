"""Import delivery logs from JSON Lines: migration from the original's tables, and benchmarks."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import select

from app.db.bulkload import no_gc, reset_sequences, sqlite_import_cache, vacuum
from app.extensions import db
from app.models import (
    DeliveryLog,
    Subscription,
)
from app.search import indexing
from app.search.sql.write import insert_rows
from app.usecases.logparse import ImportError_, Parsed
from app.usecases.logparse_workers import parse_batches

__all__ = ["ImportError_", "ImportResult", "import_logs"]

PARALLEL_BYTES = 16 * 1024 * 1024  # below, starting worker processes costs more than it saves
# Lines per worker task; a batch (transaction) may span several. Postings are sorted per
# task, so bigger tasks insert in longer key-ordered runs (20000: -25% index time vs 5000).
PARSE_CHUNK = 20000


@dataclass
class ImportResult:
    """How many rows were imported, and how many placeholder subscriptions were created."""

    rows: int = 0
    subscriptions: int = 0


def import_logs(
    stream: IO[str], batch_size: int = 5000, workers: int | None = None
) -> ImportResult:
    """Insert every row of ``stream`` (one JSON object per line), in batches, keeping log_ids.

    Each batch is indexed for search in its own transaction (unless indexing is
    disabled), so imported history is searchable as soon as it is committed.
    A row whose subscription does not exist gets a disabled placeholder subscription
    for its event, so the history stays searchable and traceable. A malformed line
    stops the import with its line number; batches already committed stay.
    ``workers`` processes parse ahead of the writer; by default one per CPU for a file
    over ``PARALLEL_BYTES`` (measured best), none for smaller ones or pipes.
    """
    result = ImportResult()
    known = set(db.session.scalars(select(Subscription.subscription_id)))
    engines = indexing.get_engines() if indexing.indexing_enabled() else None
    sql_index = engines is not None and engines.embedded is not None
    if workers is None:
        workers = (os.cpu_count() or 1) if _size(stream) > PARALLEL_BYTES else 0
    uncommitted = 0
    with sqlite_import_cache(), no_gc():
        dialect = db.session.get_bind().dialect.name
        size = min(batch_size, PARSE_CHUNK)
        for parsed in parse_batches(stream, size, dialect, sql_index, workers):
            result.subscriptions += _ensure_subscriptions(parsed.events, known)
            db.session.flush()  # placeholder subscriptions first: the rows reference them
            insert_rows(db.session(), DeliveryLog.__table__, parsed.columns, parsed.values)
            _index(engines, parsed)
            uncommitted += len(parsed.values)
            if uncommitted >= batch_size:
                db.session.commit()
                result.rows, uncommitted = result.rows + uncommitted, 0
        db.session.commit()
    result.rows += uncommitted
    reset_sequences()
    vacuum()
    return result


def _size(stream: IO[str]) -> int:
    """The size of the file behind ``stream`` (0 for a pipe or an in-memory stream)."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return 0


def _index(engines: Any, parsed: Parsed) -> None:
    """Index the batch in its transaction: prepared rows for the embedded index, and
    outbox rows for the external cluster (it reads the log rows when it flushes)."""
    if engines is None:
        return
    if parsed.index_rows is not None:
        engines.embedded.store(parsed.index_rows)
    if engines.external is not None:
        events = parsed.events
        engines.external.queue((row[0], events[row[2]]) for row in parsed.values)


def _ensure_subscriptions(events: dict[int, str], known: set[int]) -> int:
    missing = {sub_id: name for sub_id, name in events.items() if sub_id not in known}
    for sub_id, event_name in missing.items():
        db.session.add(
            Subscription(
                subscription_id=sub_id,
                event_name=event_name,
                recipient_url=f"imported:subscription/{sub_id}",
                verification_token=secrets.token_urlsafe(24),
                status=False,
                sink="http",
                store_id=0,
                disabled_reason="placeholder created by import-logs for imported history",
            )
        )
    known.update(missing)
    return len(missing)
