"""A cluster of an unsupported version is named, never used, and search keeps working.

Elasticsearch 7 and OpenSearch 1 answer the handshake (the fake knows their root
endpoints); the app refuses them with the versions it supports, and the logs grid and
``flask search`` answer from the embedded index with a notice saying so.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.search.indexing import get_engines
from tests.admin.test_admin_logs_access import signed_in
from tests.search.external.fake_elasticsearch import cluster
from tests.search.external.fake_es_support import fake_only, seed

pytestmark = fake_only
OLD = {"elasticsearch-7": "use Elasticsearch 8 or 9.x", "opensearch-1": "use OpenSearch 2 or 3.x"}


@pytest.fixture(params=sorted(OLD))
def old(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with cluster("test_old", request.param) as (url, _):
        yield request.param, url


@pytest.fixture
def config(config: dict, old: tuple[str, str]) -> dict:
    return {**config, "ELASTICSEARCH_URL": old[1], "OPENSEARCH_URL": ""}


def test_an_unsupported_version_is_named_and_search_still_works(app, ctx, runner, old):
    external = get_engines().external
    problem = external.status().problem
    assert "is not supported" in problem and OLD[old[0]] in problem
    ids = seed(external, [{"sku": "A"}, {"sku": "B"}])
    html = signed_in(app, "viewer").get("/admin/logs/", query_string={"q": "data.data.sku:B"})
    assert html.text.count("data-log-id=") == 1 and "is not supported" in html.text
    result = runner.invoke(args=["search", "data.data.sku:A", "--ids"])
    assert result.exit_code == 0 and result.stdout.split() == [str(ids[0])]
    assert "is not supported" in result.stderr
    health = app.test_client().get("/healthz").json["search"]["external"]
    assert health["status"] == "unavailable" and "is not supported" in health["problem"]
