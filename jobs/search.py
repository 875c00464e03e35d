"""The search job: send the Elasticsearch outbox now, rather than at the next housekeeping round."""

from __future__ import annotations

import dataclasses

from app.search.backend import OUTBOX_BATCH as BATCH
from app.search.indexing import get_backend


def flush_search_outbox(limit: int = BATCH) -> dict[str, int]:
    """Send up to ``limit`` outbox rows; a no-op unless Elasticsearch is the search backend.

    If Elasticsearch is down this raises SearchUnavailable and the job fails visibly;
    the rows stay in the outbox and the housekeeping thread sends them once it is back.
    """
    flush = getattr(get_backend(), "flush_outbox", None)
    if flush is None:
        return {"indexed": 0, "rejected": 0, "held": 0}
    return dataclasses.asdict(flush(limit))
