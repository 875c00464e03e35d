"""The resolver for events whose published arguments already are the payload."""

from __future__ import annotations

import copy
from typing import Any


class Passthrough:
    """Resolve an event to exactly what was published, e.g. events sent over REST."""

    def resolve(self, **arguments: Any) -> dict[str, Any]:
        """Return a copy of the published arguments, unchanged."""
        # Deep, so later mutation by a sink can't alter what another subscriber receives.
        return copy.deepcopy(arguments)
