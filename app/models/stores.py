"""Store ids: the range Magento gives them, checked alike for publications and subscriptions.

One range for both, so that a publication the API accepts always has subscriptions
that can match it: a store id is 0 (every store) to 65535, Magento's unsigned
SMALLINT. The columns are INTEGER, because PostgreSQL's SMALLINT stops at 32767.
"""

from __future__ import annotations

MAX_STORE_ID = 65535


def check_store_id(store_id: object) -> str | None:
    """Why ``store_id`` is not a store id (a whole number, 0 to MAX_STORE_ID), or None."""
    whole = isinstance(store_id, int) and not isinstance(store_id, bool)
    if whole and 0 <= store_id <= MAX_STORE_ID:
        return None
    return f"store_id must be a whole number, 0 to {MAX_STORE_ID}, got {store_id!r}"
