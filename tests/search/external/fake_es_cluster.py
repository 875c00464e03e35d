"""The fake Elasticsearch's state: indices, aliases, documents, and how it answers.

It answers as Elasticsearch documents it: hidden indices are skipped by wildcards but
reached through an alias, ``_aliases`` actions apply atomically, a bulk item fails
alone (a path that is an object in one document and a value in another is a
``mapper_parsing_exception``, as a real mapping conflict), a write to a missing index
fails instead of auto-creating it. Searches run the query_string text through our
parser and the reference evaluator (``tests/search/lucene/lucene_eval.py``), reading the ``num`` and
``keyword`` multi-fields as the leaf they are built from, and leaving keywords longer
than the mapping's ``ignore_above`` (checked to be ``KEYWORD_LIMIT``) unindexed.
"""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.search.backend import LogDocument
from app.search.lucene.ast import Query
from tests.search.external.fake_es_mapping import contract_fields, mapping_conflict
from tests.search.lucene.lucene_eval import Index


class FakeError(Exception):
    """An error response: ``kind`` and ``reason`` (and a cause), or a whole ``body``."""

    def __init__(
        self, status: int, kind: str, reason: str, caused_by: dict | None = None, body: Any = None
    ) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason
        self.caused_by, self.body = caused_by, body


@dataclass
class FakeIndex:
    """One concrete index."""

    body: dict[str, Any]
    aliases: set[str] = field(default_factory=set)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # path -> "object" | "value"


class Cluster:
    """Every index of the fake, guarded by one lock (the server is threaded)."""

    def __init__(self) -> None:
        self.indices: dict[str, FakeIndex] = {}
        self.lock = threading.RLock()
        self.generation = 0  # bumped by every change, to reuse a search's index of leaves
        self._searched: tuple[int, str, Index, list[tuple[LogDocument, str]]] | None = None

    def create(self, name: str, body: dict[str, Any]) -> None:
        """PUT /{index}."""
        if name in self.indices or name in self.alias_names():
            raise FakeError(400, "resource_already_exists_exception", f"index [{name}] exists")
        self.indices[name] = FakeIndex(body, set(body.get("aliases", {})))
        self.generation += 1

    def delete(self, name: str) -> None:
        """DELETE /{index}, one name."""
        del self.indices[name]
        self.generation += 1

    def alias_names(self) -> set[str]:
        """Every alias."""
        return {alias for index in self.indices.values() for alias in index.aliases}

    def resolve(self, expression: str, hidden: bool = False) -> list[str]:
        """Concrete indices of a name, alias or wildcard list (hidden ones only if asked)."""
        found: list[str] = []
        for part in expression.split(","):
            for name, index in sorted(self.indices.items()):
                hit_alias = any(fnmatch.fnmatchcase(a, part) for a in index.aliases)
                visible = hidden or "*" not in part or not _hidden(index)
                hit_name = fnmatch.fnmatchcase(name, part) and visible
                if (hit_alias or hit_name) and name not in found:
                    found.append(name)
        return found

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        """POST /_aliases: validate every action, then apply them all."""
        for action in actions:
            ((kind, spec),) = action.items()
            if kind not in ("add", "remove", "remove_index") or spec["index"] not in self.indices:
                raise FakeError(404, "index_not_found_exception", f"no such index {spec}")
        self.generation += 1
        for action in actions:
            ((kind, spec),) = action.items()
            if kind == "add":
                self.indices[spec["index"]].aliases.add(spec["alias"])
            elif kind == "remove":
                self.indices[spec["index"]].aliases.discard(spec["alias"])
            else:
                del self.indices[spec["index"]]

    def write(self, index: str, action: str, doc_id: str, source: Any) -> dict[str, Any]:
        """One bulk item into a concrete index; the item's response."""
        target = self.indices[index]
        self.generation += 1
        result: dict[str, Any] = {"_index": index, "_id": doc_id}
        if action == "delete":
            if target.docs.pop(doc_id, None) is None:
                return {**result, "status": 404, "result": "not_found"}
            return {**result, "status": 200, "result": "deleted"}
        conflict = mapping_conflict(target.kinds, "", source)
        if conflict:
            error = {"type": "mapper_parsing_exception", "reason": conflict}
            return {**result, "status": 400, "error": error}
        created = doc_id not in target.docs
        target.docs[doc_id] = source
        return {**result, "status": 201 if created else 200, "result": "created"}

    def search(self, expression: str, parsed: Query) -> list[tuple[int, str]]:
        """``(log_id, index)`` of every match, newest first (duplicates kept, as ES would)."""
        query = contract_fields(parsed)
        index, located = self._leaves(expression)
        ids = set(index.search(query, datetime.now(UTC)))
        hits = [(doc.log_id, name) for doc, name in located if doc.log_id in ids]
        return sorted(hits, reverse=True)

    def _leaves(self, expression: str) -> tuple[Index, list[tuple[LogDocument, str]]]:
        """The evaluator's index over what ``expression`` reaches, built once per change."""
        cached = self._searched
        if cached is not None and cached[:2] == (self.generation, expression):
            return cached[2], cached[3]
        located: list[tuple[LogDocument, str]] = []
        for name in self.resolve(expression):
            located += [(_document(source), name) for source in self.indices[name].docs.values()]
        index = Index([doc for doc, _ in located], limited=True)  # ignore_above
        self._searched = (self.generation, expression, index, located)
        return index, located


def _hidden(index: FakeIndex) -> bool:
    return index.body.get("settings", {}).get("index", {}).get("hidden") is True


def _document(source: dict[str, Any]) -> LogDocument:
    fields = {k: source[k] for k in ("log_id", "subscription_id", "uuid", "event_name")}
    fields |= {k: source[k] for k in ("created", "response_data", "data")}
    return LogDocument(**fields, success=source["success"] == "true")
