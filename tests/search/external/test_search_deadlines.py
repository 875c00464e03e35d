"""A cluster that trickles its answers, a byte at a time, is cut at the wall-clock deadline.

Each read of a trickled answer gets its byte well within the clients' read timeout, so
only a deadline over the whole exchange (``app.net.deadline``) ends it. The handshake,
a search and a bulk flush each give up by their deadline; search answers from the
embedded index meanwhile, and the outbox keeps every row for the next flush.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from app.search.external import flush as es_flush
from app.search.external.backend import ExternalBackend
from app.search.external.config import ClusterConfig
from app.search.external.transport import ClusterTimedOut, connect
from tests.search.external import fake_es_support as support
from tests.search.external.fake_es_support import fake_only, seed, settle, waiting

prefix, elasticsearch, fake = support.prefix, support.elasticsearch, support.fake
config, es = support.config, support.es
pytestmark = fake_only

BYTE_EVERY = 0.05  # s: an answer of a few hundred bytes takes 10 s and more


def searches(api, token: str, q: str):
    return api.call("GET", "/rest/V1/async_event_logs", token, query_string={"q": q})


def test_a_trickled_search_is_cut_at_its_deadline_and_the_embedded_index_answers(
    app, api, es, fake
):
    seed(es, [{"n": n, "sku": f"SKU-{n % 4}"} for n in range(12)])
    settle(es)
    app.config["SEARCH_TIMEOUT"] = 0.5
    fake.trickle = ("/_search", BYTE_EVERY)
    token = api.token("logs_list")
    started = time.perf_counter()
    response = searches(api, token, "data.data.sku:SKU-1")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.json
    assert len(response.json["items"]) == 3
    assert response.json["search_engine"] == "the embedded index"
    assert "did not answer within 0.5 s" in response.json["search_notice"]
    assert elapsed < 3.0  # the budget, the client's grace (1 s) and the SQL; not 10 s
    fake.trickle = None
    app.extensions["search_engines"].clear_outage()
    again = searches(api, token, "data.data.sku:SKU-1")  # no cut connection was pooled
    assert again.status_code == 200 and len(again.json["items"]) == 3
    assert again.json["search_notice"] is None


def test_a_trickled_handshake_gives_up_at_its_deadline(fake, prefix):
    fake.trickle = ("/", BYTE_EVERY)  # only the root endpoint's path ends with "/"
    settings = {"ELASTICSEARCH_URL": fake.url, "ELASTICSEARCH_TIMEOUT": "0.5"}
    backend = ExternalBackend(ClusterConfig.from_config(settings), prefix)
    started = time.perf_counter()
    status = backend.connect()
    assert time.perf_counter() - started < 1.5
    assert status.engine is None and "no answer in time" in status.problem


def test_a_trickled_bulk_flush_gives_up_at_its_deadline_and_keeps_every_row(es, fake, prefix):
    ids = seed(es, [{"n": 1}, {"n": 2}])
    settle(es)  # the event's index exists: the flush below only sends the bulk
    more = seed(es, [{"n": 3}, {"n": 4}])
    fake.trickle = ("/_bulk", BYTE_EVERY)
    rest = connect(dataclasses.replace(es.config, timeout=0.5), es.rest.engine)
    started = time.perf_counter()
    with pytest.raises(ClusterTimedOut, match=r"no whole answer within 0\.5 s"):
        es_flush.flush(rest, prefix, 100)
    assert time.perf_counter() - started < 1.5
    assert [log_id for log_id, _, _ in waiting()] == more  # nothing lost, nothing marked
    fake.trickle = None
    settle(es)
    assert waiting() == [] and len(ids + more) == 4
