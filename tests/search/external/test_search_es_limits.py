"""Query cost limits and time budgets on the Elasticsearch backend.

Against ``tests/search/external/fake_elasticsearch.py``, which honours a search's
``timeout`` as Elasticsearch does (partial hits, ``timed_out: true``) and refuses what
it refuses; or against the real cluster at ``ELASTICSEARCH_URL``, where the fake-only
switches (a slow index, a cluster that does not stop) skip.
"""

from __future__ import annotations

import time

import pytest

from app.search.external.transport import ClusterError
from app.usecases import search
from tests.admin.test_admin_logs_access import signed_in
from tests.search.external import fake_es_support as support
from tests.search.external.fake_es_support import fake_only, seed, settle

# The fixtures these tests use (pytest finds them by name here).
prefix, elasticsearch, fake = support.prefix, support.elasticsearch, support.fake
config, es = support.config, support.es

COSTLY = " OR ".join(f"*x{i}*" for i in range(250))  # the query


def searches(api, q: str, token: str | None = None):
    token = token or api.token("logs_list")
    return api.call("GET", "/rest/V1/async_event_logs", token, query_string={"q": q})


@pytest.fixture
def history(es):
    ids = seed(es, [{"n": n, "sku": f"SKU-{n % 4}"} for n in range(40)])
    settle(es)
    return ids


def test_a_costly_query_never_reaches_the_cluster(api, history, fake):
    sent = len(fake.searches) if fake else 0
    response = searches(api, COSTLY)
    assert response.status_code == 400 and "wildcard terms: 250" in response.json["message"]
    assert fake is None or len(fake.searches) == sent


@fake_only
def test_every_search_and_count_carries_the_time_left(ctx, history, fake):
    ctx.config["SEARCH_TIMEOUT"] = 3.0
    assert len(search.search("data.data.sku:SKU-1", 5).ids) == 5
    assert search.count("data.data.sku:SKU-1") == 10
    page, count = fake.searches[-2:]
    for body in (page, count):
        assert body["timeout"].endswith("ms") and 2000 < int(body["timeout"][:-2]) <= 3000
    assert count["size"] == 0 and count["track_total_hits"] is True
    assert not any(r.endswith("/_count") for r in fake.requests)  # _count takes no timeout


@fake_only
@pytest.mark.parametrize("stops", [True, False], ids=["stops-at-timeout", "does-not-stop"])
def test_a_slow_cluster_is_stood_in_for_by_the_embedded_index(app, api, history, fake, stops):
    app.config["SEARCH_TIMEOUT"] = 0.2
    fake.search_seconds, fake.honours_timeout = 5.0, stops  # a big index: it would take 5 s
    token = api.token("logs_list")
    started = time.perf_counter()
    response = searches(api, "data.data.sku:SKU-1", token)
    assert response.status_code == 200, response.json
    assert len(response.json["items"]) == 10  # every match, from the embedded index
    assert response.json["search_engine"] == "the embedded index"
    assert "did not answer within 0.2 s" in response.json["search_notice"]
    assert time.perf_counter() - started < 3.0  # the budget, the client's grace (1 s), SQL
    assert fake.searches[-1]["timeout"].endswith("ms")
    searched = len(fake.searches)
    again = searches(api, "data.data.sku:SKU-2", token)  # the outage is remembered for a while
    assert again.status_code == 200 and again.json["search_notice"]
    assert len(fake.searches) == searched


@fake_only
def test_flask_search_on_a_slow_cluster_answers_from_the_embedded_index(app, runner, history, fake):
    # The CLI streams, as the CSV export does: each batch gets SEARCH_EXPORT_TIMEOUT, the
    # embedded index's too (at 0.3 s, a loaded CI machine once ran out of it there).
    app.config["SEARCH_EXPORT_TIMEOUT"] = 1.0
    fake.search_seconds, fake.honours_timeout = 8.0, False  # it would keep the CLI 8 s
    started = time.perf_counter()
    result = runner.invoke(args=["search", "data.data.sku:SKU-1", "--ids"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.split()) == 10
    assert "notice:" in result.stderr and "did not answer within 1 s" in result.stderr
    assert "searched with the embedded index" in result.stderr
    assert time.perf_counter() - started < 5.0
    app.extensions["search_engines"].clear_outage()
    pinned = runner.invoke(args=["search", "data.data.sku:SKU-1", "--engine", "external"])
    assert pinned.exit_code != 0 and "invalid query" not in pinned.output
    assert "the search took longer than 1 s" in pinned.output


@fake_only
@pytest.mark.parametrize("stops", [True, False], ids=["stops-at-timeout", "does-not-stop"])
def test_without_the_embedded_index_a_slow_search_is_a_422(app, api, history, fake, stops):
    app.extensions["search_engines"].embedded = None  # SEARCH_EMBEDDED_INDEX=false
    app.config["SEARCH_TIMEOUT"] = 0.2
    fake.search_seconds, fake.honours_timeout = 5.0, stops
    started = time.perf_counter()
    response = searches(api, "data.data.sku:SKU-1")
    assert response.status_code == 422, response.json
    assert response.json["message"].startswith("the search took longer than 0.2 s")
    assert time.perf_counter() - started < 3.0


@fake_only
def test_a_dashboard_search_out_of_time_answers_from_the_embedded_index(app, history, fake):
    app.config["SEARCH_TIMEOUT"] = 0.5
    fake.count_seconds = 5.0
    client = signed_in(app, "viewer")
    html = client.get("/admin/logs/", query_string={"q": "data.data.sku:SKU-1"}).text
    assert html.count("data-log-id=") == 10  # the page from the cluster...
    assert 'data-testid="search-notice"' in html  # ...the count from the embedded index
    assert "did not answer within 0.5 s" in html and ">10<" in html
    fake.search_seconds = 5.0
    app.extensions["search_engines"].clear_outage()
    html = client.get("/admin/logs/", query_string={"q": "data.data.sku:SKU-1"}).text
    assert html.count("data-log-id=") == 10 and 'data-testid="search-notice"' in html


@fake_only
def test_clauses_the_cluster_refuses_are_a_400_not_an_outage(app, api, history, fake):
    fake.max_clause_count = 20  # a cluster whose limit is below SEARCH_MAX_CLAUSES
    response = searches(api, " OR ".join(f"data.data.sku:SKU-{n}" for n in range(30)))
    assert response.status_code == 400, response.json
    assert "maxClauseCount" in response.json["message"]


def test_the_cluster_refuses_what_elasticsearch_refuses(es, history, fake):
    """What the backend must not send: the fake refuses it as Elasticsearch does."""
    query = {"query_string": {"query": "*"}}
    with pytest.raises(ClusterError, match="does not support \\[timeout\\]"):
        es.rest.request("POST", f"/{es.pattern}/_count", body={"query": query, "timeout": "1s"})
    with pytest.raises(ClusterError, match="failed to parse setting \\[timeout\\]"):
        es.rest.request("POST", f"/{es.pattern}/_search", body={"query": query, "timeout": "1.5s"})
    if fake is not None:
        fake.violations.clear()  # this test's requests are wrong on purpose
