"""Rebuilding Elasticsearch indices from the database: a new version, then the alias swap.

Per event key: delete versions an interrupted rebuild left without the alias, create
``…_v{N+1}`` (no alias yet, so the outbox holds that event's new rows, see
``indices``), bulk every log row of the event into it, then move the alias and delete
the old versions in one atomic ``_aliases`` call. Documents Elasticsearch rejects are
parked in the outbox with their error, so the operator sees them and nothing is lost.
Run one rebuild at a time: a second one deletes the first one's unfinished version.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from app.extensions import db
from app.search.backend import LogDocument, Progress
from app.search.elasticsearch import indices as es_indices
from app.search.elasticsearch import mapping as es_mapping
from app.search.elasticsearch import outbox as es_outbox

BATCH = 500


def rebuild(
    client: Elasticsearch, prefix: str, event_name: str | None, progress: Progress | None
) -> int:
    """Rebuild the index of ``event_name`` (every subscribed event if None); return docs indexed."""
    keys = [event_name.lower()] if event_name else es_outbox.event_keys()
    totals = {key: es_outbox.count_logs(key) for key in keys}
    db.session.commit()
    if progress is not None:
        progress.reset(total=sum(totals.values()))
    return sum(_rebuild_key(client, prefix, key, progress) for key in keys)


def _rebuild_key(client: Elasticsearch, prefix: str, key: str, progress: Progress | None) -> int:
    layout = es_indices.layouts(client, prefix, [key])[key]
    es_indices.delete(client, layout.building)  # an interrupted rebuild's leftovers
    layout = es_indices.layouts(client, prefix, [key])[key]
    version = layout.next_version
    new = es_mapping.version_name(prefix, key, version)
    es_indices.create(client, new)
    layout.versions[version] = new
    indexed, rejected = 0, []
    for batch in es_outbox.log_batches(key, BATCH):
        actions = es_mapping.bulk_actions((new, doc.log_id, doc) for doc in batch)
        errors = es_indices.bulk(client, actions, require_alias=False)
        failed = [(doc, error) for doc, error in zip(batch, errors, strict=True) if error]
        rejected += failed
        indexed += len(batch) - len(failed)
        if progress is not None:
            progress.update(len(batch))
    es_indices.swap(client, layout, new)
    _park(rejected)
    return indexed


def _park(rejected: list[tuple[LogDocument, str]]) -> None:
    if rejected:
        es_outbox.park(rejected)
        db.session.commit()
