"""Elasticsearch backend, indexing: the outbox, flushing through outages and rejections.

Runs against ``tests/search/external/fake_elasticsearch.py``, which checks every
request (index names, mappings, bulk bodies, query bodies) and fails the test on any
violation; or, when ``ELASTICSEARCH_URL`` is set in the environment, against that real
cluster, under a fresh index prefix that is deleted afterwards. Only fake-only switches
(503s) skip then.
"""

from __future__ import annotations

import logging
import socket

import pytest
from sqlalchemy import delete, select

from app import settings
from app.delivery import publishing
from app.delivery.housekeeping import Housekeeper
from app.extensions import db
from app.models import DeliveryLog, SearchOutbox
from app.search.backend import ParsedQuery
from app.search.external import outbox as es_outbox
from app.search.external.backend import ExternalBackend, FlushResult, SearchUnavailable
from app.search.external.config import ClusterConfig
from app.search.lucene import parser as lucene
from app.usecases import subscriptions
from jobs.search import flush_search_outbox
from tests.search.external import fake_es_support as support
from tests.search.external.fake_es_support import (
    fake_only,
    find,
    layout,
    seed,
    settle,
    waiting,
)

# The fixtures these tests use (pytest finds them by name here).
prefix, elasticsearch, fake = support.prefix, support.elasticsearch, support.fake
config, es = support.config, support.es


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
    mapping = es.rest.request("GET", f"/{alias}/_mapping")
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
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
        down = ExternalBackend(ClusterConfig(url, "ELASTICSEARCH_URL"), prefix)
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
    with caplog.at_level(logging.WARNING, logger="app.delivery.housekeeping"):
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
