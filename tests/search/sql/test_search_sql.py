"""The embedded SQL search index on real SQLite and PostgreSQL: leaves and lifecycle.

Query semantics, paging and date math run on every backend in ``test_search_semantics``.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import settings
from app.delivery import publishing, retention
from app.extensions import db
from app.models import DeliveryLog, SearchDocument, SearchField, SearchKeyword
from app.models.types import utcnow
from app.search.backend import ParsedQuery
from app.search.documents import KEYWORD_LIMIT, leaves
from app.search.indexing import get_backend
from app.search.lucene.parser import parse
from app.search.sql.leaves import flatten
from app.search.sql.values import stored_number
from app.usecases import search, subscriptions
from tests.search.lucene.lucene_cases import DOCS, document


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "ELASTICSEARCH_URL": ""}  # the SQL index, even beside a real cluster


def run(text: str, page: int = 1000) -> list[int]:
    return get_backend().search(ParsedQuery(text, parse(text)), page)


def test_flatten_gives_the_contract_leaves():
    for log_id, data in DOCS:
        doc = document(log_id, data)
        keywords, numbers = flatten(doc)
        contract = list(leaves(doc))
        expected = {(x.field, x.keyword) for x in contract if x.keyword is not None}
        expected = {(f, k) for f, k in expected if len(k) <= KEYWORD_LIMIT}
        assert {(f, k) for f, values in keywords.items() for k in values} == expected
        expected = {(x.field, stored_number(x.number)) for x in contract if x.number is not None}
        assert {(f, n) for f, values in numbers.items() for n in values} == expected


def test_flatten_stores_what_the_databases_accept():
    data = {"big": 10**400, "nan": math.nan, "nul": "a\x00b", "half": "\ud800x"}
    keywords, numbers = flatten(document(1, data))
    assert "data.big" not in numbers and "data.nan" not in numbers  # no such double
    assert keywords["data.nul"] == ["a\ufffdb"] and keywords["data.half"] == ["\ufffdx"]


def test_delivered_log_is_searchable_in_the_same_transaction(ctx, receiver, jobs):
    subscriptions.create("example.event", receiver.route("/ok"), "t")
    publishing.publish("example.event", {"customer": {"email": "Roni@Example.com"}})
    jobs()
    receiver.wait_for(1, "/ok")
    (row,) = db.session.scalars(select(DeliveryLog)).all()
    page = search.search("data.data.customer.email:roni@example.com AND success:true")
    assert page.ids == [row.log_id] and page.rows[0].event_name == "example.event"
    assert page.rows[0].log.uuid == row.uuid and page.next_cursor is None
    assert search.count(f"uuid:{row.uuid.upper()}") == 1


def test_a_rolled_back_delivery_leaves_no_index_rows(ctx):
    sub = subscriptions.create("example.event", "http://x.test/", "t")
    db.session.add(DeliveryLog(uuid="u", subscription_id=sub.subscription_id, success=True))
    db.session.flush()
    from app.search.indexing import index_logs

    index_logs(db.session.scalars(select(DeliveryLog)).all())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SearchDocument)) == 0
    assert search.count("") == 0


def test_indexing_disabled_means_not_indexed_until_rebuilt(ctx, receiver, jobs):
    settings.set("indexing_enabled", "false")
    subscriptions.create("example.event", receiver.route("/off"), "t")
    publishing.publish("example.event", {"id": 1})
    jobs()
    receiver.wait_for(1, "/off")
    assert db.session.scalar(select(func.count()).select_from(DeliveryLog)) == 1
    assert search.count("*") == 0 and search.search("success:true").ids == []
    settings.set("indexing_enabled", "true")
    assert get_backend().rebuild() == 1
    assert search.count("success:true AND event_name:example.event") == 1


def test_retention_deletes_index_rows(ctx):
    sub = subscriptions.create("example.event", "http://x.test/", "t")
    for days in (1, 40):
        db.session.add(
            DeliveryLog(
                uuid=f"u{days}",
                subscription_id=sub.subscription_id,
                success=True,
                created=utcnow() - timedelta(days=days),
                serialized_data='{"data": {"tags": ["a", "b"], "n": 1}}',
            )
        )
    db.session.flush()
    from app.search.indexing import index_logs

    index_logs(db.session.scalars(select(DeliveryLog)).all())
    db.session.commit()
    assert search.count("data.data.tags:a") == 2
    assert retention.cleanup_logs(force=True, days=30) == 1
    assert search.count("data.data.tags:a") == 1 and search.search("uuid:u40").ids == []
    (doc,) = db.session.scalars(select(SearchDocument.log_id)).all()
    keyword_logs = set(db.session.scalars(select(SearchKeyword.log_id)))
    assert keyword_logs == {doc}


def test_rebuild_one_event_keeps_the_others(ctx):
    names = ("customer.created", "shipment.created")
    subs = [subscriptions.create(name, "http://x.test/", "t") for name in names]
    for sub in subs:
        db.session.add(
            DeliveryLog(
                uuid=sub.event_name,
                subscription_id=sub.subscription_id,
                success=True,
                serialized_data='{"v": 1}',
            )
        )
    db.session.commit()
    backend = get_backend()
    assert backend.rebuild() == 2
    assert backend.rebuild("customer.created") == 1
    assert search.count("event_name:customer.created") == 1
    assert search.count("event_name:shipment.created") == 1
    assert search.count("data.v:1") == 2


def test_a_field_created_in_a_rolled_back_transaction_is_not_reused(ctx):
    backend = get_backend()
    backend.index([document(1, {"first": "x"})])
    db.session.rollback()
    backend.index([document(2, {"second": "y"})])
    db.session.commit()
    backend.index([document(3, {"first": "z"})])
    db.session.commit()
    assert run("data.second:y") == [2] and run("data.first:z") == [3]
    paths = set(db.session.scalars(select(SearchField.path)))
    assert {"data.first", "data.second"} <= paths
