"""The bulk replay job: replay every chain matching a search, off the request."""

from __future__ import annotations

from app.usecases import replay


def replay_matching(query: str) -> int:
    """Start a new chain for every UUID with an attempt matching the Lucene ``query``."""
    return replay.replay_matching(query)
