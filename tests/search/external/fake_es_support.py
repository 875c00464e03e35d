"""The Elasticsearch tests' fixtures and helpers: a cluster (the fake of each engine, or the
real one at ``ELASTICSEARCH_URL`` / ``OPENSEARCH_URL``), a backend on it, log rows to
index, and ways to look at the result.

``elasticsearch`` is parametrized over ``SUITE_ENGINES``: every test using it runs once per
engine. Against a real cluster the parameters collapse to the one engine it is (asked
at its root endpoint); the others skip, saying so.

Test modules bind the fixtures they use by name (``es = fake_es_support.es``): pytest
finds fixtures by module attribute, and they stay out of conftest, which every test loads.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import DeliveryLog, SearchOutbox, Subscription
from app.search.backend import ParsedQuery
from app.search.external import indices as es_indices
from app.search.external import outbox as es_outbox
from app.search.external.backend import ExternalBackend
from app.search.indexing import get_backend, index_documents
from app.search.lucene import parser as lucene
from app.usecases import subscriptions
from tests.search.external.fake_elasticsearch import (
    REAL_CLUSTER,
    FakeElasticsearch,
    cluster,
    real_engine,
)
from tests.search.external.fake_es_engines import ENGINES

# The engines the suites run against: every supported one.
SUITE_ENGINES = ENGINES

fake_only = pytest.mark.skipif(bool(REAL_CLUSTER), reason="switches only the fake can flip")


@pytest.fixture
def prefix() -> str:
    return f"test_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=SUITE_ENGINES)
def elasticsearch(
    request: pytest.FixtureRequest, prefix: str
) -> Iterator[tuple[str, FakeElasticsearch | None]]:
    """``(url, fake)``: a fake of the parameter's engine, or the real cluster once."""
    if REAL_CLUSTER:
        real = real_engine(REAL_CLUSTER)
        ours = real if real in SUITE_ENGINES else SUITE_ENGINES[0]
        if request.param != ours:
            pytest.skip(
                f"{REAL_CLUSTER} is one cluster ({real or 'engine unknown'}): run as {ours}"
            )
    with cluster(prefix, request.param) as found:
        yield found


@pytest.fixture
def fake(elasticsearch: tuple[str, FakeElasticsearch | None]) -> FakeElasticsearch | None:
    return elasticsearch[1]


@pytest.fixture
def config(config: dict, elasticsearch: tuple[str, object], prefix: str) -> dict:
    url = elasticsearch[0]
    return {**config, "ELASTICSEARCH_URL": url, "OPENSEARCH_URL": "", "SEARCH_INDEX_PREFIX": prefix}


@pytest.fixture
def es(ctx) -> Iterator[ExternalBackend]:
    backend = get_backend()
    assert isinstance(backend, ExternalBackend)
    yield backend
    db.session.rollback()
    if fake_of(backend) is None:
        backend.delete_indices()  # a real cluster outlives the test; a fake is dropped


def fake_of(backend: ExternalBackend) -> object | None:
    """The fake behind ``backend``, None for a real cluster (tests flip the fake's switches)."""
    return None if REAL_CLUSTER else backend


def seed(es: ExternalBackend, payloads: list[object], event: str = "example.event") -> list[int]:
    """Log rows with these payloads, indexed as deliveries are, in their own transaction."""
    sub = db.session.scalar(select(Subscription).where(Subscription.event_name == event))
    sub = sub or subscriptions.create(event, "http://x.test/hook", "token")
    rows = [
        DeliveryLog(
            uuid=str(uuid.uuid4()),
            subscription_id=sub.subscription_id,
            success=True,
            response_data="OK",
            serialized_data=json.dumps({"data": p}),
        )
        for p in payloads
    ]
    db.session.add_all(rows)
    db.session.flush()
    documents = list(es_outbox.documents([r.log_id for r in rows]).values())
    index_documents(documents, True)  # the embedded index, and the cluster's outbox
    db.session.commit()
    return [row.log_id for row in rows]


def settle(es: ExternalBackend) -> None:
    """Flush the outbox completely and make it searchable."""
    while es.flush_outbox().indexed:
        pass
    es.refresh()


def find(es: ExternalBackend, text: str, limit: int = 10000, before: int | None = None):
    return es.search(ParsedQuery(text, lucene.parse(text)), limit, before)


def layout(es: ExternalBackend) -> dict[str, list[str]]:
    found = es_indices.aliases(es.rest, es.prefix)
    return {name: sorted(entry["aliases"]) for name, entry in found.items()}


def waiting() -> list[tuple[int, int, str | None]]:
    rows = db.session.scalars(select(SearchOutbox).order_by(SearchOutbox.id))
    return [(row.log_id, row.attempts, row.last_error) for row in rows]
