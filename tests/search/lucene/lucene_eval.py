"""Reference evaluator: which log rows a parsed query matches, by SEARCH.md's semantics.

A test oracle for the parser (its results must equal real Lucene's) and the matching
engine of the fake Elasticsearch server. It works on ``app.search.documents.leaves``:
keyword leaves compare lower-cased, numbers as doubles, ``created`` as text with date
bounds from ``app.search.lucene.datemath``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime

from app.search.backend import LogDocument
from app.search.documents import Leaf, decode, keyword_fits, leaves
from app.search.lucene.ast import Bool, Exists, MatchAll, Occur, Query
from tests.search.lucene.lucene_matching import leaf_test


def evaluate(query: Query, docs: list[LogDocument], now: datetime) -> list[int]:
    """The log_ids of ``docs`` that ``query`` matches, newest (highest) first."""
    return Index(docs).search(query, now)


def corpus_documents(lines: Iterable[str]) -> list[LogDocument]:
    """Log rows from ``gen_corpus.py`` JSONL, as the documents a backend indexes."""
    docs = []
    for line in lines:
        row = json.loads(line)
        fields = {k: row[k] for k in ("log_id", "subscription_id", "uuid", "event_name")}
        fields |= {k: row[k] for k in ("success", "created", "response_data")}
        docs.append(LogDocument(**fields, data=decode(row.get("serialized_data"))))
    return docs


class Index:
    """The leaves of some documents by field, so that many queries can be run cheaply."""

    def __init__(self, docs: Iterable[LogDocument], limited: bool = False) -> None:
        """``limited``: keywords beyond ``KEYWORD_LIMIT`` are not indexed, as in our backends
        (real Lucene, which the oracle runs, has no such limit)."""
        self.ids: set[int] = set()
        self.by_field: dict[str, list[tuple[int, Leaf]]] = defaultdict(list)
        self.by_path: dict[str, set[int]] = defaultdict(set)  # path or parent path → ids
        for doc in docs:
            self.ids.add(doc.log_id)
            for leaf in _limited(leaves(doc)) if limited else leaves(doc):
                self.by_field[leaf.field].append((doc.log_id, leaf))
                parts = leaf.field.split(".")
                for depth in range(1, len(parts) + 1):
                    self.by_path[".".join(parts[:depth])].add(doc.log_id)

    def search(self, query: Query, now: datetime) -> list[int]:
        """Matching log_ids, highest first; ``now`` resolves date math."""
        return sorted(self.match(query, now), reverse=True)

    def match(self, query: Query, now: datetime) -> set[int]:
        """The set of matching log_ids."""
        match query:
            case MatchAll():
                return set(self.ids)
            case Exists(field=field):
                return set(self.by_path.get(field, ()))
            case Bool():
                return self._bool(query, now)
        test = leaf_test(query, now)
        return {doc for doc, leaf in self._leaves(query.field) if test(leaf)}

    def _bool(self, query: Bool, now: datetime) -> set[int]:
        # Lucene with minimum-should-match 0: SHOULD counts only when nothing is MUST.
        groups: dict[Occur, list[set[int]]] = defaultdict(list)
        for clause in query.clauses:
            groups[clause.occur].append(self.match(clause.query, now))
        if groups[Occur.MUST]:
            found = set.intersection(*groups[Occur.MUST])
        else:
            found = set().union(*groups[Occur.SHOULD])
        return found.difference(*groups[Occur.MUST_NOT])

    def _leaves(self, field: str | None) -> Iterator[tuple[int, Leaf]]:
        if field is not None:
            yield from self.by_field.get(field, ())
            return
        for pairs in self.by_field.values():
            yield from pairs


def _limited(found: Iterable[Leaf]) -> Iterator[Leaf]:
    """Leaves as ``ignore_above`` leaves them: a long keyword goes, its number stays."""
    for leaf in found:
        if leaf.keyword is None or keyword_fits(leaf.keyword):
            yield leaf
        elif leaf.number is not None:
            yield Leaf(leaf.field, None, leaf.number)
