"""How the fake reads our mapping: a path's kind (object or value), and multi-fields.

A path that is an object in one document and a value in another is a mapping conflict,
as in Elasticsearch; a query on a multi-field (``f.num``, ``created.keyword``) reads the
leaf it is built from, which is how ``tests/search/lucene/lucene_eval.py`` knows it.
"""

from __future__ import annotations

from typing import Any

from app.search.lucene.ast import Bool, Clause, Exists, Prefix, Query, Range, Term, Wildcard


def mapping_conflict(kinds: dict[str, str], path: str, value: Any) -> str | None:
    """Say so when a path is an object here and a value before (or the reverse); else
    record the kind of each path, as a dynamic mapping update would."""
    trial = dict(kinds)
    problem = _kinds(trial, path, value)
    if problem is None:
        kinds.update(trial)
    return problem


def _kinds(kinds: dict[str, str], path: str, value: Any) -> str | None:
    if isinstance(value, list):
        return next(filter(None, (_kinds(kinds, path, item) for item in value)), None)
    if value is None:
        return None
    kind = "object" if isinstance(value, dict) else "value"
    if path and kinds.setdefault(path, kind) != kind:
        return f"object mapping for [{path}]: it is mapped as {kinds[path]}, got a {kind}"
    if not isinstance(value, dict):
        return None
    children = ((f"{path}.{key}" if path else key, child) for key, child in value.items())
    return next(filter(None, (_kinds(kinds, name, child) for name, child in children)), None)


def contract_fields(query: Query) -> Query:
    """Name the leaf each multi-field is built from: ``f.num`` and ``created.keyword`` are
    ``f`` and ``created``; ``*.num`` (every number) is a bare term."""
    if isinstance(query, Bool):
        return Bool(tuple(Clause(c.occur, contract_fields(c.query)) for c in query.clauses))
    if not isinstance(query, Term | Prefix | Wildcard | Range | Exists):
        return query
    name = query.field
    if name == "*.num":
        name = None
    elif name is not None and (name.endswith(".num") or name == "created.keyword"):
        name = name.rsplit(".", 1)[0]
    return type(query)(**{**query.__dict__, "field": name})
