"""An external cluster that is down, slow, misconfigured or unsupported never breaks search.

The logs grid, ``flask search``, the REST search, ``/healthz`` and the dashboard's home
keep working from the embedded index and say why; ``flask reindex`` rebuilds what it
can. Secrets in the cluster's settings never show in any of them, nor in the logs.
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from app.extensions import db
from app.search.external import indices as es_indices
from app.search.external.engines import Engine
from app.search.external.transport import ClusterError
from tests.admin.test_admin_logs_access import signed_in
from tests.search.external import fake_es_support as support
from tests.search.external.fake_es_support import fake_only, seed, settle

prefix, elasticsearch, fake = support.prefix, support.elasticsearch, support.fake
config, es = support.config, support.es

QUERY = "data.data.sku:SKU-1"


@pytest.fixture
def history(es):
    ids = seed(es, [{"n": n, "sku": f"SKU-{n % 4}"} for n in range(20)])
    settle(es)
    return ids


def label(fake) -> str:
    """How the app names the fake's engine: ``OpenSearch 2.19.1``."""
    return Engine(fake.engine.product, fake.engine.number).label


def grid(app, **args):
    return signed_in(app, "viewer").get("/admin/logs/", query_string={"q": QUERY, **args}).text


@fake_only
def test_with_the_cluster_up_the_grid_names_the_engine_and_no_notice(app, history, fake):
    html = grid(app)
    assert html.count("data-log-id=") == 5 and 'data-testid="search-notice"' not in html
    assert label(fake) in html  # the engine label beside the total


@fake_only
def test_the_grid_and_the_cli_answer_from_the_embedded_index_while_the_cluster_is_down(
    app, runner, history, fake
):
    fake.stop()
    html = grid(app)
    assert html.count("data-log-id=") == 5
    assert 'data-testid="search-notice"' in html and "External search is unavailable" in html
    assert "the embedded index" in html
    result = runner.invoke(args=["search", QUERY, "--ids"])
    assert result.exit_code == 0, result.output
    ids = [int(line) for line in result.stdout.split()]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True)
    assert "notice: External search is unavailable" in result.stderr
    assert "searched with the embedded index" in result.stderr
    pinned = runner.invoke(args=["search", QUERY, "--engine", "external"])
    assert pinned.exit_code != 0 and "search is unavailable" in pinned.output


@fake_only
def test_a_503_cluster_is_unavailable_too(app, api, history, fake):
    fake.unavailable = True
    token = api.token("logs_list")
    response = api.call("GET", "/rest/V1/async_event_logs", token, query_string={"q": QUERY})
    assert response.status_code == 200 and len(response.json["items"]) == 5
    assert "503" in response.json["search_notice"]


@fake_only
def test_without_the_embedded_index_the_grid_says_search_is_unavailable(app, history, fake):
    app.extensions["search_engines"].embedded = None
    fake.stop()
    html = grid(app)
    assert 'data-testid="search-unavailable"' in html and "Search is unavailable" in html
    assert "data-log-id=" not in html


@fake_only
def test_the_operator_can_pin_the_embedded_index_and_go_back(app, history, fake):
    html = grid(app, engine="embedded")
    assert html.count("data-log-id=") == 5 and "Searching the embedded index" in html
    assert fake.searches == [] or all("SKU-1" not in str(s) for s in fake.searches)


@fake_only
def test_healthz_and_home_name_the_engine_and_why_it_is_unavailable(app, history, fake):
    client = app.test_client()
    health = client.get("/healthz").json
    assert health["search"]["external"]["engine"] == label(fake)
    assert health["search"]["external"]["status"] == "ok" and health["search"]["embedded"]
    fake.stop()
    viewer = signed_in(app, "viewer")
    viewer.get("/admin/logs/", query_string={"q": QUERY})  # a search notices the outage
    health = client.get("/healthz")
    assert health.status_code == 200  # search stands in: delivery is healthy
    assert health.json["search"]["external"]["status"] == "unavailable"
    home = viewer.get("/admin/").text
    assert 'data-testid="search-problem"' in home and "embedded index answers" in home


def test_a_reindex_failure_on_one_event_never_stops_the_others(es, prefix, runner, monkeypatch):
    seed(es, [{"n": 1}], event="customer.created")
    seed(es, [{"n": 2}, {"n": 3}], event="customer.deleted")
    settle(es)
    create = es_indices.create

    def refuse_first(rest, name, alias=None):
        if "customer.created" in name:
            raise ClusterError(400, "illegal_argument_exception", "refused for the test", {})
        create(rest, name, alias)

    monkeypatch.setattr(es_indices, "create", refuse_first)
    result = runner.invoke(args=["reindex", "--engine", "external"])
    assert result.exit_code != 0
    assert "customer.created: 400 illegal_argument_exception" in result.output
    assert "2 documents indexed for the others" in result.output
    found = support.layout(es)
    assert found[f"{prefix}_async_event_customer.deleted_v2"] == [
        f"{prefix}_async_event_customer.deleted"
    ]
    assert found[f"{prefix}_async_event_customer.created_v1"] == [
        f"{prefix}_async_event_customer.created"
    ]
    assert not any(name.endswith("customer.created_v2") for name in found)  # no half-built version
    embedded = runner.invoke(args=["reindex", "--engine", "embedded"])
    assert embedded.exit_code == 0, embedded.output


@fake_only
def test_a_search_waiting_on_a_slow_cluster_holds_no_write_lock(app, api, history, fake):
    """On SQLite every transaction that may write holds the write lock from its BEGIN; the
    request's token lookup opens one, and the search must not wait on the cluster in it."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers take no lock a writer waits for")
    token = api.token("logs_list")
    answers: list[int] = []

    def search() -> None:
        response = api.call("GET", "/rest/V1/async_event_logs", token, query_string={"q": QUERY})
        answers.append(response.status_code)

    search()  # the token's first use is written; the next lookup only reads
    db.session.commit()  # the request shared this test's context: end what it left open
    app.config["SEARCH_TIMEOUT"] = 3.0
    fake.search_seconds, fake.honours_timeout = 2.0, False
    searching = threading.Thread(target=search)
    searching.start()
    time.sleep(0.5)  # the search is waiting on the cluster now
    writer = sqlite3.connect(db.engine.url.database, timeout=0.2, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # as a worker's recorder does
        writer.execute("ROLLBACK")
    finally:
        writer.close()
        searching.join(timeout=10)
    assert answers == [200, 200]
