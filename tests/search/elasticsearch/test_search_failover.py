"""An external cluster that is down, slow, misconfigured or unsupported never breaks search.

The logs grid, ``flask search``, the REST search, ``/healthz`` and the dashboard's home
keep working from the embedded index and say why; ``flask reindex`` rebuilds what it
can. Secrets in the cluster's settings never show in any of them, nor in the logs.
"""

from __future__ import annotations

import pytest

from app.search.external.engines import Engine
from tests.admin.test_admin_logs_access import signed_in
from tests.search.elasticsearch import fake_es_support as support
from tests.search.elasticsearch.fake_es_support import fake_only, seed, settle

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
