"""The retry schedule: 1 s, then quadratic backoff capped by max_backoff, or Retry-After."""

from __future__ import annotations


def retry_delay(
    retry_number: int, max_backoff: int, retry_after: int | None = None, retry_after_max: int = 3600
) -> int:
    """Seconds to wait before retry ``retry_number`` (1-based).

    Retry 1 comes after 1 s, as in the original's init queue; retry n waits
    ``min(max_backoff, n**2)``. A positive ``Retry-After`` from the endpoint replaces
    that wait, clamped to ``retry_after_max`` so a hostile endpoint cannot park a
    chain forever.
    """
    if retry_number < 1:
        raise ValueError(f"retry_number must be >= 1, got {retry_number}")
    if retry_after is not None and retry_after > 0:
        return min(retry_after, retry_after_max)
    if retry_number == 1:
        return 1
    return min(max_backoff, retry_number * retry_number)
