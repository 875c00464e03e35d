"""Elasticsearch backend: reindex into versions behind the alias, and searching.

Runs against ``tests/search/external/fake_elasticsearch.py``, which checks every
request (index names, mappings, bulk bodies, query bodies) and fails the test on any
violation; or, when ``ELASTICSEARCH_URL`` is set in the environment, against that real
cluster, under a fresh index prefix that is deleted afterwards. Only fake-only switches
(503s) skip then.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from datetime import datetime

import hypothesis

from app.extensions import db
from app.models import DeliveryLog, Subscription
from app.search.backend import ParsedQuery
from app.search.external import indices as es_indices
from app.search.external import outbox as es_outbox
from app.search.external import query as es_query
from app.search.external.backend import ExternalBackend, FlushResult
from app.search.lucene import parser as lucene
from app.search.lucene.ast import QuerySyntaxError
from tests.search.external import fake_es_support as support
from tests.search.external.fake_es_mapping import contract_fields
from tests.search.external.fake_es_support import find, layout, seed, settle, waiting
from tests.search.lucene.lucene_eval import Index, corpus_documents
from tests.search.lucene.lucene_strategies import lucene_queries
from tests.support import shared_dir

# The fixtures these tests use (pytest finds them by name here).
prefix, elasticsearch, fake = support.prefix, support.elasticsearch, support.fake
config, es = support.config, support.es


def test_reindex_builds_the_next_version_swaps_the_alias_and_drops_the_old(es, prefix, runner):
    ids = seed(es, [{"n": n} for n in range(30)])
    settle(es)
    alias = f"{prefix}_async_event_example.event"
    assert layout(es) == {f"{alias}_v1": [alias]}
    result = runner.invoke(args=["reindex"])
    assert result.exit_code == 0, result.output
    assert "30/30" in result.output and "reindexed 30 log rows" in result.output
    assert layout(es) == {f"{alias}_v2": [alias]}
    result = runner.invoke(args=["reindex", "--event", "example.event"])
    assert result.exit_code == 0 and layout(es) == {f"{alias}_v3": [alias]}
    es.refresh()
    assert find(es, "*") == ids[::-1]


def test_rows_of_an_event_being_rebuilt_wait_for_the_swap(es, prefix, runner):
    first = seed(es, [{"n": 1}])
    settle(es)
    alias = f"{prefix}_async_event_example.event"
    es_indices.create(es.rest, f"{alias}_v2")  # a rebuild at work, or one that died
    second = seed(es, [{"n": 2}])
    assert es.flush_outbox() == FlushResult(held=1)  # v1 is about to be replaced
    assert [row[0] for row in waiting()] == second
    result = runner.invoke(args=["reindex"])  # clears the dead build, builds v2 again
    assert result.exit_code == 0 and layout(es) == {f"{alias}_v2": [alias]}
    settle(es)
    assert waiting() == [] and find(es, "*") == second + first


def test_search_pages_past_100_newest_first_with_a_cursor(es):
    ids = seed(es, [{"n": n % 7} for n in range(250)])
    settle(es)
    pages, before = [], None
    while page := find(es, "data.data.n:[0 TO 6]", 100, before):
        pages.append(page)
        before = page[-1]
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [i for page in pages for i in page] == ids[::-1] == find(es, "*", 250)
    assert es.count(ParsedQuery("*", lucene.parse("*"))) == 250
    assert find(es, "data.data.n:3", 1000) == [i for n, i in enumerate(ids) if n % 7 == 3][::-1]


def test_public_queries_return_what_real_lucene_returns(es):
    """The shared conformance list, on the corpus real Lucene answered it for."""
    load_corpus(es)
    settle(es)
    for line in (shared_dir() / "search" / "expected-public.jsonl").read_text().splitlines():
        case = json.loads(line)
        assert find(es, case["q"]) == case["ids"], case["q"]


def load_corpus(es: ExternalBackend) -> None:
    """``gen_corpus.py 3000 7`` as log rows and subscriptions, queued for indexing."""
    script = shared_dir() / "search" / "gen_corpus.py"
    out = subprocess.run([sys.executable, script, "3000", "7"], capture_output=True, check=True)
    records = [json.loads(line) for line in out.stdout.decode().splitlines()]
    for sub_id, event in sorted({(r["subscription_id"], r["event_name"]) for r in records}):
        db.session.add(
            Subscription(
                subscription_id=sub_id,
                event_name=event,
                status=True,
                recipient_url="http://x.test/",
                verification_token="t",
                sink="http",
            )
        )
    db.session.flush()  # subscriptions first: the logs refer to them
    for r in records:
        created = datetime.strptime(r["created"], "%Y-%m-%d %H:%M:%S")
        db.session.add(
            DeliveryLog(
                log_id=r["log_id"],
                uuid=r["uuid"],
                created=created,
                subscription_id=r["subscription_id"],
                success=r["success"],
                response_data=r["response_data"],
                serialized_data=r["serialized_data"],
            )
        )
    db.session.flush()
    es.index(list(es_outbox.documents([r["log_id"] for r in records]).values()))
    db.session.commit()


@functools.cache
def corpus_index() -> Index:
    """The evaluator's index over ``gen_corpus.py 600 7``."""
    script = shared_dir() / "search" / "gen_corpus.py"
    out = subprocess.run([sys.executable, script, "600", "7"], capture_output=True, check=True)
    return Index(corpus_documents(out.stdout.decode().splitlines()))


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(text=lucene_queries())
def test_rendered_queries_mean_what_the_operator_typed(text):
    """What es_query sends, read as Elasticsearch reads our multi-fields, matches the same
    log rows as the query typed (no cluster needed: this is the renderer alone)."""
    try:
        typed = lucene.parse(text)
    except QuerySyntaxError:
        return
    now = datetime(2026, 2, 1, 12, 0, 0)
    rendered = es_query.render(typed, now)
    sent = contract_fields(lucene.parse(rendered))
    assert corpus_index().search(sent, now) == corpus_index().search(typed, now), rendered
