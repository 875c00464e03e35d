"""Search that keeps working while the external cluster does not: the embedded index stands in.

A ``Searcher`` serves the searches of one answer (a grid page and its count, an
export, a CLI run). ``auto`` asks the external cluster first; if it is unreachable,
refuses the request, or does not answer within the time budget, the searcher says
so in ``notice`` and answers from the embedded index, with a budget of its own, for
the rest of its life. The outage is remembered for ``SEARCH_RETRY_SECONDS``, so the
next answers go straight to the embedded index instead of waiting on the cluster
again. A query the cluster refuses for its cost (QueryTooCostly) is the query's
fault and is not retried elsewhere. ``external`` and ``embedded`` pin one engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from app.search import budget
from app.search.backend import ParsedQuery, SearchUnavailable
from app.search.budget import SearchTimeout
from app.search.cost import QueryTooCostly
from app.search.registry import SearchEngines, get_engines

T = TypeVar("T")
Choice = Literal["auto", "external", "embedded"]
CHOICES: tuple[Choice, ...] = ("auto", "external", "embedded")
EMBEDDED = "the embedded index"


class Searcher:
    """Searches for one answer, from the external cluster or the embedded index."""

    def __init__(self, choice: Choice = "auto", engines: SearchEngines | None = None) -> None:
        if choice not in CHOICES:
            raise ValueError(f"search engine must be one of {', '.join(CHOICES)}, got {choice!r}")
        self.engines = engines or get_engines()
        self.choice = choice
        self.notice: str | None = None  # why the answer came from the embedded index
        self._fallen = False

    @property
    def engine(self) -> str:
        """Which engine answers (or will): a label for people."""
        external = self.engines.external
        if self._use_embedded():
            return EMBEDDED
        found = external.status().engine if external is not None else None
        return found or "the external cluster"

    def search(self, query: ParsedQuery, limit: int, before: int | None = None) -> list[int]:
        """Matching log_ids, newest first (see SearchBackend.search)."""
        return self._run(lambda backend: backend.search(query, limit, before))

    def count(self, query: ParsedQuery) -> int:
        """How many log rows match."""
        return self._run(lambda backend: backend.count(query))

    def _use_embedded(self) -> bool:
        if self.choice == "embedded" or self.engines.external is None or self._fallen:
            return True
        if self.choice == "auto" and self.engines.embedded is not None:
            outage = self.engines.recent_outage()
            if outage is not None:
                self._fall_back(outage)
                return True
        return False

    def _run(self, call: Callable[[Any], T]) -> T:
        if self._use_embedded():
            return call(self._embedded())
        try:
            found = call(self.engines.external)
        except QueryTooCostly:
            raise
        except (SearchUnavailable, SearchTimeout) as exc:
            if self.choice != "auto" or self.engines.embedded is None:
                raise
            why = str(exc) if isinstance(exc, SearchUnavailable) else _late(exc)
            self.engines.note_outage(why)
            self._fall_back(why)
            with budget.restart():  # the cluster may have used the whole budget up
                return call(self._embedded())
        self.engines.clear_outage()
        return found

    def _fall_back(self, why: str) -> None:
        self._fallen = True
        self.notice = (
            f"External search is unavailable ({why}). These results come from {EMBEDDED}, "
            "which holds every log row."
        )

    def _embedded(self) -> Any:
        if self.engines.embedded is None:
            raise SearchUnavailable(
                "the embedded index is off (SEARCH_EMBEDDED_INDEX=false), so nothing can "
                "stand in for the external cluster"
            )
        return self.engines.embedded


def _late(exc: SearchTimeout) -> str:
    return f"the cluster did not answer within {exc.seconds:g} s"
