"""Property tests: no hostile request gets a 5xx, on SQLite and PostgreSQL, REST and dashboard.

Each test draws requests from ``tests/api/input_strategies.py`` and ``tests/api/input_criteria.py``
(deep nesting, integers beyond 64 bits, Unicode digits, NUL, lone surrogates, huge strings,
broken JSON, the searchCriteria grammar) and asserts a status below 500 in the route
family's shape, and that no request made the last resort log an unchecked input or an
unexpected error (``tests/api/input_fuzzing.py``).
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.api.input_criteria import search_criteria
from tests.api.input_fuzzing import FUZZ, check
from tests.api.input_fuzzing import seeded as seeded
from tests.api.input_strategies import bodies, cursors, numbers_as_text, query_string, texts

TEMPLATES = {
    ("POST", "/rest/V1/async_events/publish"): {
        "event_name": "example.event",
        "arguments": {"id": 1, "tags": ["a"]},
        "store_id": 0,
    },
    ("POST", "/rest/V1/async_event"): {
        "asyncEvent": {
            "event_name": "example.event",
            "recipient_url": "https://example.com/hook",
            "verification_token": "t",
            "metadata": "http",
            "store_id": 0,
        }
    },
    ("PUT", "/rest/V1/async_event/1"): {"asyncEvent": {"status": True, "metadata": "http"}},
    ("POST", "/rest/V1/async_event_logs/replay"): {"q": "success:false", "dry_run": True},
}


def test_search_criteria_get_200_or_400(api, seeded, caplog):
    auth = {"Authorization": f"Bearer {seeded['token']}"}

    @FUZZ
    @given(pairs=search_criteria())
    def run(pairs):
        response = api.client.get("/rest/V1/async_events?" + query_string(pairs), headers=auth)
        check(response, caplog, rest=True)
        assert response.status_code in (200, 400, 414)

    run()


def test_json_bodies_never_get_a_5xx(api, seeded, caplog):
    headers = {"Authorization": f"Bearer {seeded['token']}", "Content-Type": "application/json"}
    operations = st.sampled_from(sorted(TEMPLATES))

    @FUZZ
    @given(data=st.data())
    def run(data):
        method, path = data.draw(operations)
        body = data.draw(bodies(TEMPLATES[method, path]))
        check(api.client.open(path, method=method, data=body, headers=headers), caplog, rest=True)

    run()


@st.composite
def log_searches(draw: st.DrawFn) -> str:
    """A history search with one parameter hostile and the others valid, so it gets through."""
    params = {"q": "", "page_size": "50", "cursor": ""}
    hostile = {"q": texts(), "page_size": numbers_as_text()}
    hostile["cursor"] = st.one_of(cursors(), texts())
    name = draw(st.sampled_from(sorted(params)))
    params[name] = draw(hostile[name])
    return "/rest/V1/async_event_logs?" + query_string(list(params.items()))


def test_history_searches_never_get_a_5xx(api, seeded, caplog):
    auth = {"Authorization": f"Bearer {seeded['token']}"}

    @FUZZ
    @given(url=log_searches())
    def run(url):
        check(api.client.get(url, headers=auth), caplog, rest=True)

    run()


def test_idempotency_keys_never_get_a_5xx(api, seeded, caplog):
    auth = {"Authorization": f"Bearer {seeded['token']}"}

    @FUZZ
    @given(key=texts())
    def run(key):
        latin1 = key.encode("utf-8", "surrogatepass").decode("latin-1")  # as a server decodes it
        headers = {**auth, "Idempotency-Key": latin1.replace("\r", "").replace("\n", "")}
        body = {"event_name": "example.event"}
        publish = api.client.post("/rest/V1/async_events/publish", json=body, headers=headers)
        check(publish, caplog, rest=True)

    run()
