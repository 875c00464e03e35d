"""Credentials and TLS: basic auth or an API key, and a private CA, on every engine.

The fake serves HTTPS from a test CA and refuses requests without the right
credentials, as each engine does (OpenSearch has no API keys). The app reaches it with
``SEARCH_CA_CERTS`` and the credentials; a wrong password or a missing CA makes external
search unavailable with a reason that names the fix, never the secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from app.search.external.backend import ExternalBackend
from app.search.external.engines import Engine
from app.search.indexing import get_engines
from tests.search.external.fake_elasticsearch import cluster
from tests.search.external.fake_es_engines import ENGINES
from tests.search.external.fake_es_support import fake_only, find, seed, settle

SECRET = "pw-s3cret"  # an API key: printable ASCII, as the cluster issues them
PASSWORD = "pw-s3cret-€"  # basic credentials are UTF-8 (RFC 7617)
ACCESS = [
    (engine, mode)
    for engine in ENGINES
    for mode in ("basic", "api-key")
    if not (mode == "api-key" and engine.startswith("opensearch"))
]
pytestmark = fake_only


@pytest.fixture
def prefix() -> str:
    return "test_access"


@pytest.fixture(params=ACCESS, ids=["-".join(case) for case in ACCESS])
def secured(request: pytest.FixtureRequest, prefix: str) -> Iterator[tuple[str, object, object]]:
    engine, mode = request.param
    auth: object = ("ops", PASSWORD) if mode == "basic" else SECRET
    with cluster(prefix, engine, auth=auth, tls=True) as (url, fake):
        yield url, fake, auth


@pytest.fixture
def config(config: dict, secured: tuple[str, object, object], prefix: str) -> dict:
    url, fake, auth = secured
    credentials = (
        {"SEARCH_USERNAME": auth[0], "SEARCH_PASSWORD": auth[1]}
        if isinstance(auth, tuple)
        else {"SEARCH_API_KEY": auth}
    )
    return {
        **config,
        "ELASTICSEARCH_URL": "",
        "OPENSEARCH_URL": url,
        "SEARCH_INDEX_PREFIX": prefix,
        "SEARCH_CA_CERTS": fake.ca_certs,  # type: ignore[attr-defined]
        **credentials,
    }


def test_credentials_and_a_private_ca_reach_the_cluster(ctx, secured):
    _, fake, _ = secured
    es = get_engines().external
    status = es.status()
    assert status.problem is None and status.url.startswith("https://")
    assert status.engine == Engine(fake.engine.product, fake.engine.number).label
    ids = seed(es, [{"n": 1}, {"n": 2}])
    settle(es)
    assert find(es, "data.data.n:[1 TO 2]") == ids[::-1]


def test_a_wrong_password_or_a_missing_ca_says_what_to_fix(ctx, secured, prefix):
    _, fake, auth = secured
    config = get_engines().external.config
    wrong = (
        dataclasses.replace(config, password="nope")
        if isinstance(auth, tuple)
        else dataclasses.replace(config, api_key="nope")
    )
    problem = ExternalBackend(wrong, prefix).connect().problem
    assert "refused our credentials" in problem
    assert SECRET not in problem and PASSWORD not in problem
    untrusted = dataclasses.replace(config, ca_certs=None)
    problem = ExternalBackend(untrusted, prefix).connect().problem
    assert "TLS failed" in problem and "SEARCH_CA_CERTS" in problem
    unverified = dataclasses.replace(config, ca_certs=None, verify_certs=False)
    assert ExternalBackend(unverified, prefix).connect().problem is None
    fake.violations.clear()  # the wrong credentials were refused on purpose
