"""The embedded SQL search index on real SQLite and PostgreSQL: semantics and lifecycle."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import DeliveryLog, SearchDocument, SearchField, SearchKeyword
from app.models.types import utcnow
from app.search.backend import LogDocument, ParsedQuery
from app.search.documents import leaves
from app.search.indexing import get_backend
from app.search.lucene import parse
from app.search.sql_leaves import KEYWORD_LIMIT, flatten, stored_number
from app.services import publishing, retention, search, settings, subscriptions

LONG = "x" * (KEYWORD_LIMIT + 1)
DOCS = [  # log_id: data
    (1, {"name": "Veronica", "tags": ["A", "b"], "n": 5, "s": "5", "nested": {"x": None}}),
    (2, {"name": "veronica costello", "tags": ["b"], "n": -0.0, "flag": True, "pct": "50%"}),
    (3, {"name": "Zoë", "n": 10.5, "items": [{"sku": "SKU-1", "qty": 2}, {"sku": "sku-2"}]}),
    (4, {"name": "a_b%c", "n": 1e300, "star": "a*b", "q": 'say "hi"', "long": LONG}),
    (5, {"name": "Émile", "n": "0x10", "n2": "1_000", 'we"ird': "k", "list": [1, "one"]}),
    (6, {"other": "veronica", "n": 0}),
]
SEMANTICS = [
    ("data.name:veronica", [1]),
    ("data.name:VERONICA", [1]),
    ('data.name:"Veronica Costello"', [2]),
    ("data.name:veron*", [2, 1]),
    ("data.name:*costello", [2]),
    ("data.name:v?ronica", [1]),
    ("data.name:zo?", [3]),
    ("data.name:a_b%c", [4]),
    ("data.name:a?b?c", [4]),
    ("data.name:a_b*", [4]),
    ("data.star:a\\*b", [4]),
    ("data.star:a*b", [4]),
    ("data.name:émile", [5]),
    ("data.name:ÉMI*", [5]),
    ("veronica", [6, 1]),
    ("data.tags:a", [1]),
    ("data.tags:B", [2, 1]),
    ("data.items.sku:sku-1", [3]),
    ("data.items.qty:2", [3]),
    ("data.n:5", [1]),
    ("data.n:5.0", [1]),
    ("data.s:5", [1]),
    ("data.n:[5 TO 10.5]", [3, 1]),
    ("data.n:{5 TO 10.5}", []),
    ("data.n:>=0", [6, 4, 3, 1]),
    ("data.n:0", [6]),
    ("data.n:\\-0", [2]),
    ("data.n:[-1 TO 0}", []),  # Math.nextDown(0.0) skips -0.0, as Lucene's points do
    ("data.n:[-1 TO 0]", [6, 2]),
    ("data.n:{-0 TO 1]", []),
    ("data.n:[* TO -0]", [2]),
    ("data.n:[* TO *]", [6, 4, 3, 2, 1]),
    ("data.n:>1e299", [4]),
    ("data.n:0x10", [5]),
    ("data.n2:1_000", [5]),
    ("data.n2:1000", [5]),
    ("data.name:[veronica TO zz]", [3, 2, 1]),
    ("data.name:{veronica TO zoë]", [3, 2]),
    ("data.flag:true", [2]),
    ("data.pct:50%", [2]),
    ('data.q:"say \\"hi\\""', [4]),
    ("_exists_:data.nested", []),
    ("_exists_:data.nested.x", []),
    ("_exists_:data.items", [3]),
    ("_exists_:data.it", []),
    ("data.flag:*", [2]),
    ("_exists_:data.long", []),
    (f"data.long:{LONG}", []),
    ('data.we\\"ird:k', [5]),
    ('_exists_:data.we\\"ird', [5]),
    ("data.list:one", [5]),
    ("data.list:1", [5]),
    ("nope:veronica", []),
    ("*", [6, 5, 4, 3, 2, 1]),
    ("NOT data.name:veronica", [6, 5, 4, 3, 2]),
    ("data.name:veronica OR data.name:zoë", [3, 1]),
    ("data.tags:b AND NOT data.name:veronica", [2]),
    ("data.tags:b OR data.n:10.5 AND data.name:zoë", [3]),
    ("+data.tags:b -data.flag:true", [1]),
    ("(data.tags:b OR data.n:0) AND NOT (data.name:veronica OR data.other:*)", [2]),
    ("event_name:demo.event AND success:true", [6, 5, 4, 3, 2, 1]),
    ("created:[2026-01-02 TO 2026-01-03]", [2]),
    ("created:2026-01-0*", [6, 5, 4, 3, 2, 1]),
    ("log_id:[2 TO 4}", [3, 2]),
]


def document(log_id: int, data: object, created: str = "") -> LogDocument:
    created = created or f"2026-01-0{log_id} 10:00:00"
    return LogDocument(log_id, 1, f"u{log_id}", "demo.event", True, created, "OK", data)


def run(text: str, page: int = 1000) -> list[int]:
    return get_backend().search(ParsedQuery(text, parse(text)), page)


@pytest.fixture
def indexed(ctx):
    get_backend().index([document(i, data) for i, data in DOCS])
    db.session.commit()
    return ctx


@pytest.mark.parametrize(
    ("text", "expected"), SEMANTICS, ids=[getattr(c, "values", c)[0] for c in SEMANTICS]
)
def test_query_semantics(indexed, text, expected):
    backend = get_backend()
    assert run(text) == expected
    assert backend.count(ParsedQuery(text, parse(text))) == len(expected)
    assert run(text, page=1) == expected[:1]  # the scan and candidate paths agree on order


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


def test_cursor_pages_through_every_match_without_a_cap(ctx):
    get_backend().index([document(i, {"k": "v" if i % 3 else "w"}) for i in range(1, 361)])
    db.session.commit()
    expected = [i for i in range(360, 0, -1) if i % 3]
    seen, cursor = [], None
    while True:
        page = search.search("data.k:v", page_size=50, cursor=cursor)
        seen += page.ids
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and len(seen) == 240
    assert [hit for hit in search.iter_all("data.k:v", batch=7)] == []  # no log rows: no hits
    assert search.count("data.k:v") == 240
    with pytest.raises(search.CursorError):
        search.search("data.k:v", cursor="bm9wZQ")


def test_date_math_on_created(ctx):
    now = utcnow()
    ages = {1: timedelta(minutes=30), 2: timedelta(hours=2), 3: timedelta(days=3)}
    docs = [document(i, {}, (now - age).strftime("%Y-%m-%d %H:%M:%S")) for i, age in ages.items()]
    get_backend().index(docs)
    db.session.commit()
    assert run("created:>now-1h") == [1]
    assert run("created:[now-7d TO now]") == [3, 2, 1]
    assert run("created:<now-1d") == [3]
    assert run("created:{now-1d TO now-1h]") == [2]
    with pytest.raises(search.QuerySyntaxError):
        search.parse_query("created:>now-1x")


@pytest.mark.parametrize("text", ["a AND (", "data.x:[1 TO", "abc~", "/re.*/", "x:(", "a^"])
def test_a_syntax_error_is_an_error(ctx, text):
    with pytest.raises(search.QuerySyntaxError) as info:
        search.search(text)
    assert str(info.value)


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
