"""Search semantics, one suite for every backend: SQL on SQLite and PostgreSQL, Elasticsearch.

Elasticsearch is the checking fake
(``tests/search/external/fake_elasticsearch.py``), or the real cluster at
``ELASTICSEARCH_URL`` when that is set, under a fresh index prefix deleted afterwards.
Documents go in as delivery log rows indexed the way deliveries are, so every backend
sees the same rows; each query must give the same log_ids, newest first, from a search,
a count and a one-row first page.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.models import DeliveryLog, Subscription
from app.models.types import utcnow
from app.search.backend import LogDocument, ParsedQuery
from app.search.indexing import get_backend, index_logs
from app.search.lucene.parser import parse
from app.usecases import search
from tests.search.external.fake_elasticsearch import cluster
from tests.search.external.fake_es_engines import ENGINES as CLUSTERS
from tests.search.lucene.lucene_cases import DOCS, SEMANTICS, document

ENGINES = [("sqlite", "sql"), ("postgresql", "sql"), *(("sqlite", name) for name in CLUSTERS)]


@pytest.fixture(params=ENGINES, ids=["-".join(engine) for engine in ENGINES])
def engine(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(database, search backend)."""
    return request.param


@pytest.fixture
def backend(engine: tuple[str, str], postgres_ok: bool) -> str:
    """The database, one per engine (this replaces conftest's parametrised one)."""
    if engine[0] == "postgresql" and not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    return engine[0]


@pytest.fixture
def config(config: dict, engine: tuple[str, str]) -> Iterator[dict]:
    if engine[1] == "sql":  # the SQL index, even beside a real cluster
        yield {**config, "ELASTICSEARCH_URL": "", "OPENSEARCH_URL": ""}
        return
    prefix = f"test_{uuid.uuid4().hex[:10]}"
    with cluster(prefix, engine[1]) as (url, _):
        yield {
            **config,
            "ELASTICSEARCH_URL": url,
            "OPENSEARCH_URL": "",
            "SEARCH_INDEX_PREFIX": prefix,
        }


@pytest.fixture
def searchable(ctx, engine: tuple[str, str]):
    """The app context; a real cluster's indices of this test are deleted afterwards."""
    yield ctx
    if engine[1] != "sql":
        db.session.rollback()
        get_backend().delete_indices()  # type: ignore[attr-defined]


def store(docs: list[LogDocument]) -> None:
    """Log rows with the documents' fields, indexed as deliveries are; searchable on return."""
    db.session.add(
        Subscription(
            subscription_id=1,
            event_name="demo.event",
            status=True,
            recipient_url="http://x.test/",
            verification_token="t",
            sink="http",
        )
    )
    db.session.flush()  # the subscription first: the log rows refer to it
    rows = [_log_row(doc) for doc in docs]
    db.session.add_all(rows)
    db.session.flush()
    index_logs(rows)
    db.session.commit()
    backend = get_backend()
    if backend.name == "external":
        while backend.flush_outbox().indexed:  # type: ignore[attr-defined]
            pass
        backend.refresh()  # type: ignore[attr-defined]


def _log_row(doc: LogDocument) -> DeliveryLog:
    return DeliveryLog(
        log_id=doc.log_id,
        uuid=doc.uuid,
        subscription_id=doc.subscription_id,
        success=doc.success,
        created=datetime.strptime(doc.created, "%Y-%m-%d %H:%M:%S"),
        response_data=doc.response_data,
        serialized_data=json.dumps(doc.data),
    )


def run(text: str, page: int = 1000) -> list[int]:
    return get_backend().search(ParsedQuery(text, parse(text)), page)


@pytest.fixture
def indexed(searchable):
    store([document(i, data) for i, data in DOCS])
    return searchable


@pytest.mark.parametrize(
    ("text", "expected"), SEMANTICS, ids=[getattr(c, "values", c)[0] for c in SEMANTICS]
)
def test_query_semantics(indexed, text, expected):
    assert run(text) == expected
    assert get_backend().count(ParsedQuery(text, parse(text))) == len(expected)
    assert run(text, page=1) == expected[:1]  # SQL's scan and candidate paths agree on order


def test_cursor_pages_through_every_match_without_a_cap(searchable):
    store([document(i, {"k": "v" if i % 3 else "w"}) for i in range(1, 361)])
    expected = [i for i in range(360, 0, -1) if i % 3]
    seen, cursor = [], None
    while True:
        page = search.search("data.k:v", page_size=50, cursor=cursor)
        seen += page.ids
        assert [hit.log.log_id for hit in page.rows] == page.ids
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and len(seen) == 240
    assert [hit.log.log_id for hit in search.iter_all("data.k:v", batch=7)] == expected
    assert search.count("data.k:v") == 240
    with pytest.raises(search.CursorError):
        search.search("data.k:v", cursor="bm9wZQ")


def test_date_math_on_created(searchable):
    now = utcnow()
    ages = {1: timedelta(minutes=30), 2: timedelta(hours=2), 3: timedelta(days=3)}
    store([document(i, {}, (now - age).strftime("%Y-%m-%d %H:%M:%S")) for i, age in ages.items()])
    assert run("created:>now-1h") == [1]
    assert run("created:[now-7d TO now]") == [3, 2, 1]
    assert run("created:<now-1d") == [3]
    assert run("created:{now-1d TO now-1h]") == [2]
    with pytest.raises(search.QuerySyntaxError):
        search.parse_query("created:>now-1x")


@pytest.mark.parametrize("text", ["a AND (", "data.x:[1 TO", "abc~", "/re.*/", "x:(", "a^"])
def test_a_syntax_error_is_an_error(searchable, text):
    with pytest.raises(search.QuerySyntaxError) as info:
        search.search(text)
    assert str(info.value)
