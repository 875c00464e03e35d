"""Rebuilding the cluster's indices from the database: a new version, then the alias swap.

Per event key: delete versions an interrupted rebuild left without the alias, create
``…_v{N+1}`` (no alias yet, so the outbox holds that event's new rows, see
``indices``), bulk every log row of the event into it, then move the alias and delete
the old versions in one atomic ``_aliases`` call. Documents the cluster rejects are
parked in the outbox with their error, so the operator sees them and nothing is lost.

One event's failure never stops the others: its old index stays live, the failure is
recorded in the ``RebuildReport`` with its reason, and the next event goes on. Only an
outage (no connection at all) stops the whole run, since every event would fail alike.
Run one rebuild at a time: a second one deletes the first one's unfinished version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from app.extensions import db
from app.search.backend import LogDocument, Progress
from app.search.external import indices as es_indices
from app.search.external import mapping as es_mapping
from app.search.external import outbox as es_outbox
from app.search.external.transport import ClusterError, ClusterUnreachable, Rest

BATCH = 500
log = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    """What a rebuild did: documents indexed, and each event that failed with why."""

    indexed: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def rebuild(
    rest: Rest, prefix: str, event_name: str | None, progress: Progress | None
) -> RebuildReport:
    """Rebuild the index of ``event_name`` (every subscribed event if None)."""
    keys = [event_name.lower()] if event_name else es_outbox.event_keys()
    totals = {key: es_outbox.count_logs(key) for key in keys}
    db.session.commit()
    if progress is not None:
        progress.reset(total=sum(totals.values()))
    report = RebuildReport()
    for key in keys:
        try:
            report.indexed += _rebuild_key(rest, prefix, key, progress)
        except ClusterError as exc:  # this event's index only; the others go on
            db.session.rollback()
            report.failed[key] = str(exc)
            log.warning("reindex of %s failed, its old index stays live: %s", key, exc)
    return report


def _rebuild_key(rest: Rest, prefix: str, key: str, progress: Progress | None) -> int:
    layout = es_indices.layouts(rest, prefix, [key])[key]
    es_indices.delete(rest, layout.building)  # an interrupted rebuild's leftovers
    layout = es_indices.layouts(rest, prefix, [key])[key]
    version = layout.next_version
    new = es_mapping.version_name(prefix, key, version)
    es_indices.create(rest, new)
    layout.versions[version] = new
    try:
        indexed, rejected = _fill(rest, new, key, progress)
        es_indices.swap(rest, layout, new)
    except ClusterError:
        _abandon(rest, new)
        raise
    _park(rejected)
    return indexed


def _fill(
    rest: Rest, new: str, key: str, progress: Progress | None
) -> tuple[int, list[tuple[LogDocument, str]]]:
    """Bulk every log row of ``key`` into ``new``: (documents indexed, documents rejected)."""
    indexed, rejected = 0, []
    for batch in es_outbox.log_batches(key, BATCH):
        actions = es_mapping.bulk_actions((new, doc.log_id, doc) for doc in batch)
        errors = es_indices.bulk(rest, actions, require_alias=False)
        failed = [(doc, error) for doc, error in zip(batch, errors, strict=True) if error]
        rejected += failed
        indexed += len(batch) - len(failed)
        if progress is not None:
            progress.update(len(batch))
    return indexed, rejected


def _abandon(rest: Rest, new: str) -> None:
    """Delete an unfinished version, so the event's new rows are not held for it."""
    try:
        es_indices.delete(rest, [new])
    except (ClusterError, ClusterUnreachable) as exc:  # the next rebuild deletes it then
        log.warning("could not delete the unfinished index %s: %s", new, exc)


def _park(rejected: list[tuple[LogDocument, str]]) -> None:
    if rejected:
        es_outbox.park(rejected)
        db.session.commit()
