"""Elasticsearch backend: the outbox, flushing through outages and rejections, reindex, search.

Runs against ``tests/fake_elasticsearch.py``, which checks every request (index names,
mappings, bulk bodies, query bodies) and fails the test on any violation; or, when
``ELASTICSEARCH_URL`` is set in the environment, against that real cluster, under a
fresh index prefix that is deleted afterwards. Only fake-only switches (503s) skip then.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime

import hypothesis
import pytest
from sqlalchemy import delete, select

from app.extensions import db
from app.housekeeping import Housekeeper
from app.models import DeliveryLog, SearchOutbox, Subscription
from app.search import es_indices, es_outbox, es_query, lucene
from app.search.ast import QuerySyntaxError
from app.search.backend import ParsedQuery
from app.search.elasticsearch import ElasticsearchBackend, FlushResult, SearchUnavailable
from app.search.indexing import get_backend
from app.services import publishing, settings, subscriptions
from jobs.search import flush_search_outbox
from tests.fake_elasticsearch import REAL_CLUSTER, FakeElasticsearch, cluster
from tests.fake_es_cluster import contract_fields
from tests.lucene_eval import Index, corpus_documents
from tests.lucene_strategies import lucene_queries
from tests.support import shared_dir

fake_only = pytest.mark.skipif(bool(REAL_CLUSTER), reason="switches only the fake can flip")


@pytest.fixture
def prefix() -> str:
    return f"test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def elasticsearch(prefix: str) -> Iterator[tuple[str, FakeElasticsearch | None]]:
    with cluster(prefix) as found:
        yield found


@pytest.fixture
def fake(elasticsearch: tuple[str, FakeElasticsearch | None]) -> FakeElasticsearch | None:
    return elasticsearch[1]


@pytest.fixture
def config(config: dict, elasticsearch: tuple[str, object], prefix: str) -> dict:
    return {**config, "ELASTICSEARCH_URL": elasticsearch[0], "SEARCH_INDEX_PREFIX": prefix}


@pytest.fixture
def es(ctx) -> Iterator[ElasticsearchBackend]:
    backend = get_backend()
    assert isinstance(backend, ElasticsearchBackend)
    yield backend
    db.session.rollback()
    backend.delete_indices()  # a real cluster outlives the test


def seed(
    es: ElasticsearchBackend, payloads: list[object], event: str = "example.event"
) -> list[int]:
    """Log rows with these payloads, queued for indexing in their own transaction."""
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
    es.index(list(es_outbox.documents([r.log_id for r in rows]).values()))
    db.session.commit()
    return [row.log_id for row in rows]


def settle(es: ElasticsearchBackend) -> None:
    """Flush the outbox completely and make it searchable."""
    while es.flush_outbox().indexed:
        pass
    es.refresh()


def find(es: ElasticsearchBackend, text: str, limit: int = 10000, before: int | None = None):
    return es.search(ParsedQuery(text, lucene.parse(text)), limit, before)


def layout(es: ElasticsearchBackend) -> dict[str, list[str]]:
    found = es.client.indices.get_alias(index=es.pattern, expand_wildcards="all").body
    return {name: sorted(entry["aliases"]) for name, entry in found.items()}


def waiting() -> list[tuple[int, int, str | None]]:
    rows = db.session.scalars(select(SearchOutbox).order_by(SearchOutbox.id))
    return [(row.log_id, row.attempts, row.last_error) for row in rows]


def test_a_delivered_log_and_its_outbox_row_commit_together(es, receiver, jobs):
    subscriptions.create("example.event", receiver.route("/hook"), "token")
    publishing.publish("example.event", {"first_name": "Rey"})
    jobs()
    (log,) = db.session.scalars(select(DeliveryLog)).all()
    assert waiting() == [(log.log_id, 0, None)]
    (doc,) = es_outbox.documents([log.log_id]).values()
    db.session.commit()
    es.index([doc])  # as the log writer does, inside its transaction...
    db.session.rollback()  # ...which fails: the outbox row goes with it
    assert waiting() == [(log.log_id, 0, None)]


def test_flush_indexes_the_outbox_into_the_event_alias_and_empties_it(es, prefix):
    ids = seed(es, [{"first_name": "Rey", "sku": "5.0"}, {"first_name": "Finn", "sku": 7}])
    assert len(waiting()) == 2
    assert es.flush_outbox() == FlushResult(indexed=2)
    es.refresh()
    assert waiting() == []
    alias = f"{prefix}_async_event_example.event"
    assert layout(es) == {f"{alias}_v1": [alias]}
    assert find(es, "*") == ids[::-1]
    assert find(es, "data.data.first_name:REY") == [ids[0]]
    assert find(es, "data.data.sku:5 OR data.data.sku:[6 TO 8]") == ids[::-1]
    mapping = es.client.indices.get_mapping(index=alias).body
    (properties,) = (m["mappings"]["properties"] for m in mapping.values())
    assert properties["created"]["type"] == "date"
    assert properties["uuid"] == properties["event_name"]
    assert properties["uuid"]["normalizer"] == "lowercase"


def test_the_flush_job_removes_the_document_of_a_log_that_is_gone(es):
    ids = seed(es, [{"n": 1}, {"n": 2}])
    assert flush_search_outbox() == {"indexed": 2, "rejected": 0, "held": 0}
    db.session.execute(delete(DeliveryLog).where(DeliveryLog.log_id == ids[0]))
    db.session.add(SearchOutbox(log_id=ids[0], event_name="example.event"))  # as a deleter queues
    db.session.commit()
    assert flush_search_outbox()["indexed"] == 1
    es.refresh()
    assert find(es, "*") == [ids[1]] and waiting() == []


def test_rows_wait_out_an_outage_and_are_indexed_once_it_is_back(es, prefix):
    ids = seed(es, [{"n": 1}, {"n": 2}, {"n": 3}])
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        down = ElasticsearchBackend(f"http://127.0.0.1:{probe.getsockname()[1]}", prefix)
    with pytest.raises(SearchUnavailable):
        down.flush_outbox()
    assert waiting() == [(i, 0, None) for i in ids]  # an outage is not the rows' fault
    with pytest.raises(SearchUnavailable):
        down.search(ParsedQuery("*", lucene.parse("*")), 10)
    settle(es)
    assert waiting() == [] and find(es, "data.data.n:[2 TO *]") == ids[:0:-1]


@fake_only
def test_housekeeping_keeps_flushing_across_a_503(ctx, es, fake, redis_conn, caplog):
    ids = seed(es, [{"n": 1}, {"n": 2}])
    keeper = Housekeeper(ctx, redis_conn)
    fake.unavailable = True
    db.session.commit()  # the thread has its own session; SQLite lets one writer in
    with caplog.at_level(logging.WARNING, logger="app.housekeeping"):
        assert keeper.flush_search() == 0
    assert "search outbox waits for Elasticsearch" in caplog.text
    assert [row[0] for row in waiting()] == ids
    fake.unavailable = False
    db.session.commit()
    redis_conn.delete("async_events:search:flush:lock")  # the next interval
    assert keeper.flush_search() == 2 and waiting() == []


def test_a_rejected_document_stays_pending_with_its_error(es):
    first, second = seed(es, [{"shape": {"sides": 4}}, {"shape": "square"}])
    assert es.flush_outbox() == FlushResult(indexed=1, rejected=1)
    ((log_id, attempts, error),) = waiting()
    assert (log_id, attempts) == (second, 1) and error.startswith("400 ")
    assert es.flush_outbox() == FlushResult(rejected=1)  # tried again, still kept
    assert waiting()[0][1] == 2
    es.refresh()
    assert find(es, "data.data.shape.sides:4") == [first]


def test_indexing_disabled_queues_nothing_and_reindex_refuses(es, runner, receiver, jobs):
    settings.set("indexing_enabled", "false")
    subscriptions.create("example.event", receiver.route("/hook"), "token")
    publishing.publish("example.event", {"first_name": "Rey"})
    jobs()
    assert len(db.session.scalars(select(DeliveryLog)).all()) == 1 and waiting() == []
    assert es.flush_outbox() == FlushResult()
    result = runner.invoke(args=["reindex"])
    assert result.exit_code != 0 and "indexing is disabled" in result.output


def test_reindex_builds_the_next_version_swaps_the_alias_and_drops_the_old(es, prefix, runner):
    ids = seed(es, [{"n": n} for n in range(30)])
    settle(es)
    alias = f"{prefix}_async_event_example.event"
    assert layout(es) == {f"{alias}_v1": [alias]}
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "30/30" in result.output and "reindexed 30 log rows" in result.output
    assert layout(es) == {f"{alias}_v2": [alias]}
    result = runner.invoke(args=["reindex", "--event", "example.event"])
    assert result.exit_code == 0 and layout(es) == {f"{alias}_v3": [alias]}
    es.refresh()
    assert find(es, "*") == ids[::-1]


def test_rows_of_an_event_being_rebuilt_wait_for_the_swap(es, prefix, runner):
    first = seed(es, [{"n": 1}])
    settle(es)
    alias = f"{prefix}_async_event_example.event"
    es_indices.create(es.client, f"{alias}_v2")  # a rebuild at work, or one that died
    second = seed(es, [{"n": 2}])
    assert es.flush_outbox() == FlushResult(held=1)  # v1 is about to be replaced
    assert [row[0] for row in waiting()] == second
    result = runner.invoke(args=["reindex"])  # clears the dead build, builds v2 again
    assert result.exit_code == 0 and layout(es) == {f"{alias}_v2": [alias]}
    settle(es)
    assert waiting() == [] and find(es, "*") == second + first


def test_search_pages_past_100_newest_first_with_a_cursor(es):
    ids = seed(es, [{"n": n % 7} for n in range(250)])
    settle(es)
    pages, before = [], None
    while page := find(es, "data.data.n:[0 TO 6]", 100, before):
        pages.append(page)
        before = page[-1]
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [i for page in pages for i in page] == ids[::-1] == find(es, "*", 250)
    assert es.count(ParsedQuery("*", lucene.parse("*"))) == 250
    assert find(es, "data.data.n:3", 1000) == [i for n, i in enumerate(ids) if n % 7 == 3][::-1]


def test_public_queries_return_what_real_lucene_returns(es):
    """The shared conformance list, on the corpus real Lucene answered it for."""
    load_corpus(es)
    settle(es)
    for line in (shared_dir() / "search" / "expected-public.jsonl").read_text().splitlines():
        case = json.loads(line)
        assert find(es, case["q"]) == case["ids"], case["q"]


def load_corpus(es: ElasticsearchBackend) -> None:
    """``gen_corpus.py 3000 7`` as log rows and subscriptions, queued for indexing."""
    script = shared_dir() / "search" / "gen_corpus.py"
    out = subprocess.run([sys.executable, script, "3000", "7"], capture_output=True, check=True)
    records = [json.loads(line) for line in out.stdout.decode().splitlines()]
    for sub_id, event in sorted({(r["subscription_id"], r["event_name"]) for r in records}):
        db.session.add(
            Subscription(
                subscription_id=sub_id,
                event_name=event,
                status=True,
                recipient_url="http://x.test/",
                verification_token="t",
                sink="http",
            )
        )
    db.session.flush()  # subscriptions first: the logs refer to them
    for r in records:
        created = datetime.strptime(r["created"], "%Y-%m-%d %H:%M:%S")
        db.session.add(
            DeliveryLog(
                log_id=r["log_id"],
                uuid=r["uuid"],
                created=created,
                subscription_id=r["subscription_id"],
                success=r["success"],
                response_data=r["response_data"],
                serialized_data=r["serialized_data"],
            )
        )
    db.session.flush()
    es.index(list(es_outbox.documents([r["log_id"] for r in records]).values()))
    db.session.commit()


@functools.cache
def corpus_index() -> Index:
    """The evaluator's index over ``gen_corpus.py 600 7``."""
    script = shared_dir() / "search" / "gen_corpus.py"
    out = subprocess.run([sys.executable, script, "600", "7"], capture_output=True, check=True)
    return Index(corpus_documents(out.stdout.decode().splitlines()))


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(text=lucene_queries())
def test_rendered_queries_mean_what_the_operator_typed(text):
    """What es_query sends, read as Elasticsearch reads our multi-fields, matches the same
    log rows as the query typed (no cluster needed: this is the renderer alone)."""
    try:
        typed = lucene.parse(text)
    except QuerySyntaxError:
        return
    now = datetime(2026, 2, 1, 12, 0, 0)
    rendered = es_query.render(typed, now)
    sent = contract_fields(lucene.parse(rendered))
    assert corpus_index().search(sent, now) == corpus_index().search(typed, now), rendered
