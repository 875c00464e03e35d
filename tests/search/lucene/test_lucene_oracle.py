"""The parser and reference evaluator against real Lucene (shared/search/oracle.sh).

The public queries are checked against their stored answers; generated queries are
run through the oracle in one batch (one JVM) and must give the same log_ids, and
the same parse errors. ``HYPOTHESIS_PROFILE=ci`` checks more queries, and
``LUCENE_ORACLE_EXAMPLES``/``LUCENE_ORACLE_SEED`` set the count and the seed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from app.search.lucene.ast import QuerySyntaxError
from app.search.lucene.datemath import DateMathError
from app.search.lucene.parser import parse
from tests.search.lucene.lucene_eval import Index, corpus_documents
from tests.search.lucene.lucene_strategies import lucene_queries
from tests.support import shared_dir

LUCENE_CORE = Path("/usr/share/java/lucene-core-8.7.0.jar")
EXAMPLES = {"ci": 3000}.get(os.environ.get("HYPOTHESIS_PROFILE", ""), 800)
NOW = datetime(2026, 3, 1)  # the oracle has no date math, so no query depends on it


def corpus(size: int, corpus_seed: int, folder: Path) -> Path:
    """A gen_corpus.py corpus written to ``folder``."""
    path = folder / f"corpus-{size}-{corpus_seed}.jsonl"
    if not path.exists():
        script = shared_dir() / "search" / "gen_corpus.py"
        with path.open("w") as out:
            subprocess.run(
                [sys.executable, script, str(size), str(corpus_seed)], stdout=out, check=True
            )
    return path


@pytest.fixture(scope="module")
def public_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    with corpus(3000, 7, tmp_path_factory.mktemp("corpus")).open() as lines:
        return Index(corpus_documents(lines))


def public_answers() -> list[dict]:
    with (shared_dir() / "search" / "expected-public.jsonl").open() as lines:
        return [json.loads(line) for line in lines]


@pytest.mark.parametrize("answer", public_answers(), ids=lambda a: a["q"])
def test_public_query_matches_lucene(answer: dict, public_index: Index) -> None:
    assert public_index.search(parse(answer["q"]), NOW) == answer["ids"]


def require_oracle() -> None:
    """Skip without a JDK and Lucene 8.7, except in CI, where the oracle must run."""
    if not shutil.which("javac") or not LUCENE_CORE.exists():
        reason = "needs a JDK and liblucene8-java (apt-get install -y default-jdk liblucene8-java)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def run_oracle(corpus_path: Path, queries: list[str], folder: Path) -> list[dict]:
    """One oracle.sh run: one answer per query, in order."""
    query_file = folder / "queries.txt"
    query_file.write_text("".join(q + "\n" for q in queries), encoding="utf-8")
    oracle = shared_dir() / "search" / "oracle.sh"
    done = subprocess.run(
        [oracle, corpus_path, query_file], capture_output=True, text=True, check=True
    )
    answers = [json.loads(line, strict=False) for line in done.stdout.splitlines()]
    assert len(answers) == len(queries), done.stderr
    return answers


def generated_queries(count: int, run_seed: int) -> list[str]:
    """``count`` distinct queries from the strategies; hypothesis only generates here."""
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
        if text.strip() and not text.startswith("#"):  # lines the oracle would skip
            found[text] = None

    collect()
    return list(found)


def our_answer(index: Index, text: str) -> dict | None:
    """Our answer in the oracle's shape; None for date math, which the oracle lacks."""
    try:
        ast = parse(text)
    except QuerySyntaxError:
        return {"error": "parse"}
    try:
        return {"ids": index.search(ast, NOW)}
    except DateMathError:
        return None


def test_generated_queries_match_lucene(tmp_path: Path) -> None:
    require_oracle()
    run_seed = int(os.environ.get("LUCENE_ORACLE_SEED", random.getrandbits(32)))
    count = int(os.environ.get("LUCENE_ORACLE_EXAMPLES", EXAMPLES))
    queries = generated_queries(count, run_seed)
    corpus_path = corpus(600, 11, tmp_path)
    expected = run_oracle(corpus_path, queries, tmp_path)
    with corpus_path.open() as lines:
        index = Index(corpus_documents(lines))
    differences = []
    for text, answer in zip(queries, expected, strict=True):
        try:
            ours = our_answer(index, text)
        except Exception as error:  # a crash is a difference too: report it with its query
            ours = {"crash": repr(error)}
        if ours is not None and ours != {k: v for k, v in answer.items() if k != "q"}:
            differences.append(f"{text!r}: lucene {str(answer)[:150]}, ours {str(ours)[:150]}")
    summary = f"{len(differences)} of {len(queries)} queries differ (LUCENE_ORACLE_SEED={run_seed})"
    assert not differences, summary + "\n" + "\n".join(differences[:30])
    accepted = [a for a in expected if "ids" in a]
    matching = sum(1 for a in accepted if a["ids"])
    assert matching >= len(accepted) // 3, f"only {matching} of {len(accepted)} queries match rows"
