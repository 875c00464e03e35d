"""The fake cluster answers as each engine: root endpoint, headers, refusals, errors, auth, TLS.

Raw HTTP (urllib3) against ``FakeElasticsearch(prefix, engine)``, so what is checked is
the wire, not a client's reading of it; the last tests put the real clients in front
(elasticsearch-py 9 refuses OpenSearch for its missing product header, and Elasticsearch 8
refuses elasticsearch-py 9's compatible-with=9).
"""

from __future__ import annotations

import json
import ssl

import elasticsearch
import pytest
import urllib3

from app.search.external import mapping
from app.search.external.engines import Engine
from tests.search.external.fake_elasticsearch import FakeElasticsearch
from tests.search.external.fake_es_engines import ENGINES, PROFILES

PREFIX = "fake_engines"
VND = "application/vnd.elasticsearch+json; compatible-with={}"
JSON = "application/json"


@pytest.fixture
def serve():
    started: list[FakeElasticsearch] = []

    def serve(engine: str, **options) -> FakeElasticsearch:
        started.append(FakeElasticsearch(PREFIX, engine, **options).start())
        return started[-1]

    yield serve
    for fake in started:
        fake.stop()


def client_headers(engine: str) -> dict[str, str]:
    """What the app's client sends this engine with a JSON body."""
    profile = PROFILES[engine]
    kind = VND.format(profile.major) if profile.product == "elasticsearch" else JSON
    return {"Accept": kind, "Content-Type": kind}


def call(fake: FakeElasticsearch, method: str, path: str, body=None, headers=None, **kw):
    data = None if body is None else json.dumps(body).encode()
    headers = headers if headers is not None else client_headers(fake.engine.name)
    return urllib3.request(method, fake.url + path, body=data, headers=headers, **kw)


@pytest.mark.parametrize("engine", sorted(PROFILES))
def test_the_root_endpoint_answers_as_the_engine(serve, engine):
    fake = serve(engine)
    answer = call(fake, "GET", "/", headers={"Accept": JSON})
    version = answer.json()["version"]
    opensearch = engine.startswith("opensearch")
    assert answer.status == 200 and version["number"] == PROFILES[engine].number
    assert version.get("distribution") == ("opensearch" if opensearch else None)
    assert ("build_flavor" in version) is not opensearch
    assert answer.json()["tagline"].startswith(
        "The OpenSearch Project" if opensearch else "You Know"
    )
    assert (answer.headers.get("X-Elastic-Product") == "Elasticsearch") is not opensearch
    assert answer.headers["Content-Type"].startswith(JSON)
    assert fake.violations == []


@pytest.mark.parametrize(("engine", "asked", "message"), [
    ("elasticsearch-8", 9, "Accept version must be either version 8 or 7, but found 9."),
    ("elasticsearch-9", 7, "Accept version must be either version 9 or 8, but found 7."),
])  # fmt: skip
def test_elasticsearch_refuses_a_compatible_version_it_lacks(serve, engine, asked, message):
    fake = serve(engine)
    answer = call(fake, "GET", "/_alias", headers={"Accept": VND.format(asked)})
    error = answer.json()["error"]
    assert answer.status == 400 and error["type"] == "media_type_header_exception"
    assert error["caused_by"]["reason"] == f"{message} Accept={VND.format(asked)}"
    assert len(fake.violations) == 1 and "refused by" in fake.violations[0]


@pytest.mark.parametrize("engine", ["elasticsearch-8", "elasticsearch-9"])
def test_elasticsearch_wants_both_headers_versioned_alike(serve, engine):
    fake = serve(engine)
    major = PROFILES[engine].major
    headers = {"Accept": VND.format(major), "Content-Type": JSON}
    answer = call(fake, "POST", "/x/_search", {"size": 1}, headers=headers)
    reason = answer.json()["error"]["caused_by"]["reason"]
    assert answer.status == 400 and reason.startswith("A compatible version is required on both")
    ok = call(fake, "GET", "/_alias", headers={"Accept": VND.format(major)})
    assert ok.status == 200
    assert (
        ok.headers["Content-Type"] == f"application/vnd.elasticsearch+json;compatible-with={major}"
    )


@pytest.mark.parametrize("engine", ["opensearch-2", "opensearch-3"])
def test_opensearch_refuses_elasticsearch_media_types_with_a_string_error(serve, engine):
    fake = serve(engine)
    kind = VND.format(8)
    answer = call(
        fake, "POST", "/x/_search", {"size": 1}, headers={"Accept": kind, "Content-Type": kind}
    )
    assert answer.status == 406
    assert answer.json() == {
        "error": f"Content-Type header [{kind}] is not supported",
        "status": 406,
    }
    listed = call(fake, "GET", "/_alias", headers={"Accept": kind})  # an Accept it ignores
    assert (
        listed.status == 200 and listed.headers["Content-Type"] == "application/json; charset=UTF-8"
    )
    assert any("client sends" in problem for problem in fake.violations)  # not what we send


NESTED = "(data.a:1 OR data.b:2) AND (data.c:3 OR data.d:4)"  # 4 leaves, 2 per boolean
FLAT = "data.a:1 OR data.b:2 OR data.c:3 OR data.d:4"  # 4 clauses in one boolean


@pytest.mark.parametrize(("engine", "status", "root"), [
    ("elasticsearch-8", 500, "too_many_nested_clauses"),
    ("elasticsearch-9", 400, "illegal_argument_exception"),
    ("opensearch-2", 500, "too_many_nested_clauses"),
    ("opensearch-3", 500, "too_many_nested_clauses"),
])  # fmt: skip
def test_too_many_clauses_is_answered_as_each_engine_does(serve, engine, status, root):
    fake = serve(engine)
    fake.max_clause_count = 3
    path = f"/{PREFIX}_async_event_*/_search"
    nested = call(fake, "POST", path, {"query": {"query_string": {"query": NESTED}}})
    error = nested.json()["error"]
    assert nested.status == status and error["type"] == "search_phase_execution_exception"
    assert (
        error["root_cause"][0]["type"] == root
        and "maxClauseCount is set to 3" in nested.data.decode()
    )
    flat = call(fake, "POST", path, {"query": {"query_string": {"query": FLAT}}})
    assert (
        flat.status == 400
        and flat.json()["error"]["root_cause"][0]["type"] == "query_shard_exception"
    )
    assert "too many boolean clauses" in flat.data.decode()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_setting_the_engine_lacks_is_refused(serve, engine):
    fake = serve(engine)
    profile = PROFILES[engine]
    ours = Engine(profile.product, profile.number)  # what the app sends this engine
    body = {"settings": mapping.index_settings(ours), "mappings": mapping.mappings()}
    assert call(fake, "PUT", f"/{PREFIX}_async_event_mine_v1", body).status == 200
    newest = Engine("elasticsearch", "9.1.5")  # every setting we know
    body = {"settings": mapping.index_settings(newest), "mappings": mapping.mappings()}
    answer = call(fake, "PUT", f"/{PREFIX}_async_event_e_v1", body)
    if engine == "elasticsearch-9":
        assert answer.status == 200 and fake.violations == []
    else:
        reason = answer.json()["error"]["reason"]
        assert answer.status == 400
        assert reason.startswith(
            "unknown setting [index.mapping.total_fields.ignore_dynamic_beyond_limit]"
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_must_exist_on_remove_index_is_refused_by_opensearch_only(serve, engine):
    fake = serve(engine)
    settings = {"index": {"hidden": True}}
    assert call(fake, "PUT", f"/{PREFIX}_async_event_e_v1", {"settings": settings}).status == 200
    action = {"remove_index": {"index": f"{PREFIX}_async_event_e_v1", "must_exist": True}}
    answer = call(fake, "POST", "/_aliases", {"actions": [action]})
    if engine.startswith("opensearch"):
        assert answer.status == 400
        assert answer.json()["error"]["root_cause"][0]["reason"].endswith(
            "unknown field [must_exist]"
        )
    else:
        done = {"acknowledged": True} | ({"errors": False} if engine == "elasticsearch-9" else {})
        assert answer.status == 200 and answer.json() == done


@pytest.mark.parametrize("engine", ENGINES)
def test_credentials_are_required_when_configured(serve, engine):
    fake = serve(engine, auth=("shop", "s3cret"))
    bare = call(fake, "GET", "/", headers={"Accept": JSON})
    assert bare.status == 401 and "X-Elastic-Product" not in bare.headers
    if engine.startswith("opensearch"):
        assert bare.data == b"Unauthorized"
        assert bare.headers["WWW-Authenticate"] == 'Basic realm="OpenSearch Security"'
    else:
        assert bare.json()["error"]["type"] == "security_exception"
        assert "missing authentication credentials" in bare.json()["error"]["reason"]
        assert "ApiKey" in bare.headers["WWW-Authenticate"]
    headers = {"Accept": JSON, **urllib3.make_headers(basic_auth="shop:s3cret")}
    assert call(fake, "GET", "/", headers=headers).status == 200


KEY = "a2V5OnNlY3JldA=="


def test_an_api_key_is_elasticsearchs_only(serve):
    headers = {"Accept": JSON, "Authorization": f"ApiKey {KEY}"}
    assert call(serve("elasticsearch-9", auth=KEY), "GET", "/", headers=headers).status == 200
    wrong = {**headers, "Authorization": "ApiKey d3Jvbmc="}
    assert call(serve("elasticsearch-8", auth=KEY), "GET", "/", headers=wrong).status == 401
    opensearch = serve("opensearch-3", auth=("shop", "s3cret"))
    refused = call(opensearch, "GET", "/", headers=headers)
    assert refused.status == 401 and refused.data == b"Unauthorized"
    with pytest.raises(ValueError, match="no ApiKey"):
        FakeElasticsearch(PREFIX, "opensearch-2", auth=KEY)


@pytest.mark.parametrize("engine", ["elasticsearch-8", "opensearch-2"])
def test_https_is_trusted_only_through_the_generated_ca(serve, engine):
    fake = serve(engine, tls=True)
    assert fake.url.startswith("https://")
    trusted = urllib3.PoolManager(ca_certs=fake.ca_certs, retries=False)
    assert trusted.request("GET", fake.url + "/", headers={"Accept": JSON}).status == 200
    with pytest.raises(urllib3.exceptions.SSLError):
        urllib3.PoolManager(retries=False).request("GET", fake.url + "/")
    assert isinstance(ssl.get_default_verify_paths(), ssl.DefaultVerifyPaths)


@pytest.mark.parametrize("engine", ENGINES)
def test_outages_answer_for_every_engine(serve, engine):
    fake = serve(engine)
    fake.unavailable = True
    kind = call(fake, "GET", "/_alias").json()["error"]["type"]
    assert kind.endswith("not_discovered_exception")
    fake.stop()
    with pytest.raises(urllib3.exceptions.HTTPError):
        call(fake, "GET", "/_alias", retries=False)
    fake.start()
    fake.unavailable = False
    assert call(fake, "GET", "/_alias").status == 200


def test_the_elasticsearch_client_refuses_opensearch_and_a_newer_compat(serve):
    # (opensearch-py is not tried here: under pytest its ``from events import Events``
    # finds tests/events first, so it cannot be imported in this suite as it stands.)
    opensearch = serve("opensearch-2")
    with pytest.raises(elasticsearch.UnsupportedProductError):
        elasticsearch.Elasticsearch(opensearch.url).indices.get_alias()
    with pytest.raises(elasticsearch.BadRequestError, match="media_type_header_exception"):
        elasticsearch.Elasticsearch(serve("elasticsearch-8").url).indices.get_alias()
