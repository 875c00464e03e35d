"""The engines we speak to, and what differs between them in the requests we send.

Supported: Elasticsearch 8 and 9, OpenSearch 2 and 3. What differs for us:

- Media types. Elasticsearch 8 and 9 get ``application/vnd.elasticsearch+json;
  compatible-with=N`` with N their own major: Elasticsearch 8 refuses the 9.x client's
  default ``compatible-with=9`` (400 ``media_type_header_exception``), which is why a
  stock 9.x client fails against 8. OpenSearch gets plain ``application/json``; it
  does not know the vnd.elasticsearch types.
  https://www.elastic.co/docs/reference/elasticsearch/rest-apis/compatibility
- The product header. Elasticsearch sends ``X-Elastic-Product: Elasticsearch`` on every
  answer (the elasticsearch client refuses an answer without it); OpenSearch does not,
  so OpenSearch goes through opensearch-py.
- ``index.mapping.total_fields.ignore_dynamic_beyond_limit`` exists from
  Elasticsearch 8.13; older 8.x and OpenSearch refuse an index that sets it. Without
  it, a document that would pass the field limit is rejected instead of having its
  extra fields left unindexed (it stays in the outbox with the error).
  https://www.elastic.co/guide/en/elasticsearch/reference/8.13/mapping-settings-limit.html
- Too many clauses. Elasticsearch 8.16 and later answer 400; earlier 8.x and
  OpenSearch answer 500 with a ``too_many_nested_clauses`` cause inside
  ``search_phase_execution_exception`` (elastic/elasticsearch PRs #112678, #112952).
  ``too_many_clauses`` reads every one of these as the query's cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Product = Literal["elasticsearch", "opensearch"]
SUPPORTED: dict[Product, tuple[int, ...]] = {"elasticsearch": (8, 9), "opensearch": (2, 3)}
NAMES: dict[Product, str] = {"elasticsearch": "Elasticsearch", "opensearch": "OpenSearch"}


class UnsupportedEngine(ValueError):
    """A cluster that answers, but is not an engine and version we support."""


@dataclass(frozen=True)
class Engine:
    """One detected engine: its product and version, as its root endpoint said."""

    product: Product
    number: str  # the version as the cluster wrote it, e.g. "2.19.1"

    @property
    def version(self) -> tuple[int, int]:
        """(major, minor)."""
        parts = [*self.number.split(".")[:2], "0", "0"]
        major, minor = (int(part) if part.isdigit() else 0 for part in parts[:2])
        return major, minor

    @property
    def label(self) -> str:
        """For people: ``OpenSearch 2.19.1``."""
        return f"{NAMES[self.product]} {self.number}"

    def check_supported(self) -> Engine:
        """This engine, or UnsupportedEngine saying which versions are."""
        majors = SUPPORTED[self.product]
        if self.version[0] not in majors:
            wanted = " or ".join(str(m) for m in majors)
            raise UnsupportedEngine(
                f"{self.label} is not supported: use {NAMES[self.product]} {wanted}.x"
            )
        return self

    def media_type(self, ndjson: bool = False) -> str:
        """The Content-Type (and Accept, for JSON) of a request to this engine."""
        kind = "x-ndjson" if ndjson else "json"
        if self.product == "opensearch":
            return f"application/{kind}"
        return f"application/vnd.elasticsearch+{kind}; compatible-with={self.version[0]}"

    @property
    def drops_fields_beyond_limit(self) -> bool:
        """Whether ``ignore_dynamic_beyond_limit`` is a setting this engine knows."""
        return self.product == "elasticsearch" and self.version >= (8, 13)


def too_many_clauses(status: int, body: object) -> bool:
    """Whether an error answer is the cluster's clause limit (the query's cost): 400
    ``too_many_nested_clauses`` or "too many clauses" (Elasticsearch 8.16+), 400 "too many
    boolean clauses" (one boolean past the limit, at parse), 500 with a
    ``too_many_nested_clauses`` cause (earlier Elasticsearch 8, OpenSearch)."""
    text = str(body).lower().replace("_", " ")
    return status in (400, 500) and "too many" in text and "clauses" in text
