"""Flushing the search outbox: each pending row to its event's alias, in one bulk request.

An event's first row creates ``…_v1`` with its alias. Rows of an event whose index is
being rebuilt are held until the alias swap (see ``indices``). Rows the cluster
acknowledged are forgotten; rows it rejected stay, with their error. An outage raises
before any row changes, so the next flush simply sends them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.extensions import db
from app.search.external import indices as es_indices
from app.search.external import mapping as es_mapping
from app.search.external import outbox as es_outbox
from app.search.external.outbox import Pending
from app.search.external.transport import Rest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlushResult:
    """One flush: rows acknowledged, rejected (kept with their error), held for a rebuild."""

    indexed: int = 0
    rejected: int = 0
    held: int = 0


def flush(rest: Rest, prefix: str, limit: int) -> FlushResult:
    """Send up to ``limit`` outbox rows and record what the cluster said of each."""
    rows = es_outbox.pending(limit)
    db.session.commit()  # end the read before the network: SQLite holds its write lock
    if not rows:
        return FlushResult()
    found = _ready(rest, prefix, {_key(row) for row in rows})
    sendable = [row for row in rows if not found[_key(row)].building]
    targets = [(found[_key(row)].alias, row.log_id, row.document) for row in sendable]
    errors = es_indices.bulk(rest, es_mapping.bulk_actions(targets), require_alias=True)
    rejected = {row.id: e for row, e in zip(sendable, errors, strict=True) if e is not None}
    es_outbox.acknowledge(row.id for row in sendable if row.id not in rejected)
    es_outbox.reject(rejected)
    db.session.commit()
    held = sorted({_key(row) for row in rows} - {_key(row) for row in sendable})
    if rejected:
        example = next(iter(rejected.values()))
        log.warning("the search cluster rejected %s outbox rows, e.g. %s", len(rejected), example)
    if held:
        log.warning("search rows of %s wait for a reindex to finish", held)
    return FlushResult(len(sendable) - len(rejected), len(rejected), len(rows) - len(sendable))


def _ready(rest: Rest, prefix: str, keys: set[str]) -> dict[str, es_indices.Layout]:
    """Each key's layout, creating the first version (with the alias) of a new event."""
    found = es_indices.layouts(rest, prefix, keys)
    for key, layout in found.items():
        if layout.live is None and not layout.building:
            name = es_mapping.version_name(prefix, key, layout.next_version)
            es_indices.create(rest, name, layout.alias)
    return found


def _key(row: Pending) -> str:
    """The index a row belongs to: its log's event now, or the one it was queued under."""
    return (row.document.event_name if row.document else row.event_name).lower()
