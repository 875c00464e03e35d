"""External-cluster settings that cannot work never stop the app, and secrets never show.

The app starts, the embedded index answers, and the grid, ``/healthz`` and the logs say
what is wrong, with no password or API key in any of them.
"""

from __future__ import annotations

import base64
import logging

import pytest

from app.search.external.backend import ExternalBackend
from app.search.external.config import ClusterConfig
from tests.admin.test_admin_logs_access import signed_in

SECRET = "s3cret-pass"


@pytest.fixture
def config(config: dict, request: pytest.FixtureRequest) -> dict:
    return {**config, "ELASTICSEARCH_URL": "", "OPENSEARCH_URL": "", **request.param}


def everything_shown(app, caplog) -> str:
    html = signed_in(app, "viewer").get("/admin/logs/", query_string={"q": "x:1"}).text
    health = app.test_client().get("/healthz").text
    logged = "\n".join(
        r.getMessage() for when in ("setup", "call") for r in caplog.get_records(when)
    )
    return "\n".join([html, health, logged, repr(app.extensions["search_engines"])])


@pytest.mark.parametrize(
    "config",
    [
        {
            "ELASTICSEARCH_URL": f"https://elastic:{SECRET}@127.0.0.1:1",
            "OPENSEARCH_URL": "https://h:2",
        }
    ],
    indirect=True,
)
def test_two_cluster_urls_are_a_problem_shown_not_a_crash(app, caplog):
    caplog.set_level(logging.DEBUG)
    engines = app.extensions["search_engines"]
    assert isinstance(engines.external, ExternalBackend) and engines.embedded is not None
    assert "set only one" in engines.external.status().problem
    shown = everything_shown(app, caplog)
    assert 'data-testid="search-notice"' in shown and "set only one" in shown
    assert SECRET not in shown


@pytest.mark.parametrize(
    "config",
    [
        {"ELASTICSEARCH_URL": f"http://elastic:{SECRET}@127.0.0.1:1"},  # nobody listens
        {"OPENSEARCH_URL": "http://127.0.0.1:1", "SEARCH_API_KEY": SECRET},
        {"OPENSEARCH_URL": "http://127.0.0.1:1", "SEARCH_USERNAME": "u", "SEARCH_PASSWORD": SECRET},
    ],
    indirect=True,
    ids=["password-in-url", "api-key", "username-password"],
)
def test_credentials_are_never_shown_or_logged(app, caplog):
    caplog.set_level(logging.DEBUG)
    shown = everything_shown(app, caplog)
    assert "connection refused" in shown  # the reason is shown...
    assert SECRET not in shown  # ...never the secret


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"OPENSEARCH_URL": "ftp://h"}, "must be an http:// or https:// URL"),
        ({"OPENSEARCH_URL": "http://h:99999"}, "port that is not a number"),
        ({"OPENSEARCH_URL": "http://h", "SEARCH_USERNAME": "u"}, "must be set together"),
        ({"OPENSEARCH_URL": "http://h", "SEARCH_CA_CERTS": "/nope.pem"}, "no readable file"),
        ({"OPENSEARCH_URL": "http://h", "ELASTICSEARCH_TIMEOUT": "soon"}, "positive number"),
        ({"OPENSEARCH_URL": "http://h", "ELASTICSEARCH_TIMEOUT": "-1"}, "positive number"),
        ({"OPENSEARCH_URL": "http://h", "ELASTICSEARCH_TIMEOUT": "1e9"}, "at most 3600"),
        ({"OPENSEARCH_URL": "http://h", "ELASTICSEARCH_TIMEOUT": "nan"}, "positive number"),
        (
            {"OPENSEARCH_URL": "http://u:p@h", "SEARCH_API_KEY": "k"},
            "both SEARCH_API_KEY and a username",
        ),
        ({"OPENSEARCH_URL": "http://h/a b"}, "space or a control character"),
        ({"OPENSEARCH_URL": "http://h/\x00"}, "space or a control character"),
        (
            {"OPENSEARCH_URL": "http://h", "SEARCH_USERNAME": "u", "SEARCH_PASSWORD": "p\r\nX: 1"},
            "SEARCH_PASSWORD has a control character",
        ),
        (
            {"OPENSEARCH_URL": "http://h", "SEARCH_USERNAME": "a:b", "SEARCH_PASSWORD": "p"},
            "cannot contain ':'",
        ),
        (  # undecodable bytes in the environment reach Python as a lone surrogate
            {"OPENSEARCH_URL": "http://h", "SEARCH_USERNAME": "u", "SEARCH_PASSWORD": "p\udc80"},
            "SEARCH_PASSWORD is not valid UTF-8",
        ),
        (
            {"OPENSEARCH_URL": "http://h", "SEARCH_USERNAME": "\ud800", "SEARCH_PASSWORD": "p"},
            "SEARCH_USERNAME is not valid UTF-8",
        ),
        ({"OPENSEARCH_URL": "http://h", "SEARCH_API_KEY": "k\u20ac"}, "printable ASCII"),
        ({"OPENSEARCH_URL": "http://h", "SEARCH_API_KEY": "a b"}, "printable ASCII"),
    ],
)
def test_each_unworkable_setting_says_what_to_fix(settings, problem):
    found = ClusterConfig.from_config(settings)
    assert found is not None and problem in (found.problem or "")


def test_no_url_means_no_cluster_and_the_url_never_keeps_credentials():
    assert ClusterConfig.from_config({"ELASTICSEARCH_URL": " "}) is None
    found = ClusterConfig.from_config({"OPENSEARCH_URL": "https://a%40b:p%3Aw@[::1]:9200/es/"})
    assert found is not None and found.problem is None
    assert (found.url, found.username, found.password) == ("https://[::1]:9200/es", "a@b", "p:w")
    assert "p:w" not in repr(found) and found.mask("oops p:w") == "oops ****"


def test_basic_credentials_are_utf8_and_their_header_is_a_secret_too():
    found = ClusterConfig.from_config(
        {"OPENSEARCH_URL": "http://h", "SEARCH_USERNAME": "ops", "SEARCH_PASSWORD": "pw-€"}
    )
    assert found is not None and found.problem is None
    header = found.authorization()["Authorization"]
    assert header == "Basic " + base64.b64encode("ops:pw-€".encode()).decode()
    assert found.mask(f"sent {header}") == "sent Basic ****"
    keyed = ClusterConfig.from_config({"OPENSEARCH_URL": "http://h", "SEARCH_API_KEY": "k1"})
    assert keyed is not None and keyed.authorization() == {"Authorization": "ApiKey k1"}
