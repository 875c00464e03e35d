"""The SQL index reproduces real Lucene: the public queries exactly, and generated ones.

The corpus goes in through ``flask import-logs``, as operators load history. Public
queries are compared with ``expected-public.jsonl`` (real Lucene's answers on
``gen_corpus.py 3000 7``); generated queries with ``tests/search/lucene/lucene_eval.py``, the
reference evaluator that ``test_lucene_oracle`` holds to Lucene.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from app.search.backend import ParsedQuery
from app.search.indexing import get_backend
from app.search.lucene.ast import QuerySyntaxError
from app.search.lucene.parser import parse
from app.search.sql import backend as sql
from tests.search.lucene.lucene_eval import Index, corpus_documents
from tests.search.lucene.lucene_strategies import lucene_queries
from tests.support import shared_dir

GENERATED = 250


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "ELASTICSEARCH_URL": ""}  # the SQL index, even beside a real cluster


def load(runner, tmp_path, size: int, corpus_seed: int) -> str:
    generator = shared_dir() / "search" / "gen_corpus.py"
    text = subprocess.check_output(
        [sys.executable, str(generator), str(size), str(corpus_seed)], text=True
    )
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(text)
    result = runner.invoke(args=["import-logs", str(corpus), "--batch-size", "700"])
    assert result.exit_code == 0 and f"imported {size} log rows" in result.output, result.output
    return text


def every_match(query: ParsedQuery, page: int) -> list[int]:
    """All matches through the cursor, ``page`` at a time, as the UI and export read them."""
    backend, ids, before = get_backend(), [], None
    while True:
        found = backend.search(query, page, before)
        ids += found
        if len(found) < page:
            return ids
        before = found[-1]


@pytest.fixture(params=["tuned", "scans"])
def paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``scans``: no candidate lists and small windows, so that pages come from posting
    walks, document scans and set algebra, as on a large history."""
    if request.param == "scans":
        monkeypatch.setattr(sql, "candidate_cap", lambda *args: 0)
        monkeypatch.setattr(sql, "FIRST_WINDOW", 64)
        monkeypatch.setattr(sql, "SCAN_BUDGET", 1500)
    return request.param


def test_public_queries_match_lucene_exactly(app, runner, tmp_path, paths):
    load(runner, tmp_path, 3000, 7)
    answers = (shared_dir() / "search" / "expected-public.jsonl").read_text().splitlines()
    differences = []
    with app.app_context():
        for answer in map(json.loads, answers):
            query = ParsedQuery(answer["q"], parse(answer["q"]))
            ids, total = every_match(query, 100), get_backend().count(query)
            if ids != answer["ids"] or total != len(answer["ids"]):
                differences.append(f"{answer['q']!r}: {len(ids)}/{total} vs {len(answer['ids'])}")
    assert not differences, "\n".join(differences)


def generated_queries(count: int, run_seed: int) -> list[str]:
    found: dict[str, None] = {}

    @seed(run_seed)
    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(lucene_queries())
    def collect(text: str) -> None:
        found[text] = None

    collect()
    return list(found)


def test_generated_queries_match_the_reference_evaluator(app, runner, tmp_path, paths):
    lines = load(runner, tmp_path, 600, 11).splitlines()
    reference = Index(corpus_documents(lines))
    differences, compared = [], 0
    with app.app_context():
        for text in generated_queries(GENERATED, 20261127):
            try:
                ast = parse(text)
            except QuerySyntaxError:
                continue
            now = datetime.now(UTC)
            expected = reference.search(ast, now)
            query = ParsedQuery(text, ast)
            ids, total = every_match(query, 37), get_backend().count(query)
            compared += 1
            if (ids != expected or total != len(expected)) and "now" not in text:
                differences.append(f"{text!r}: ours {len(ids)}/{total}, expected {len(expected)}")
    assert compared > GENERATED // 2
    assert not differences, f"{len(differences)} of {compared} differ:\n" + "\n".join(differences)
