"""The fake Elasticsearch's REST routes: parse each request, check it, let the cluster answer."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.search.lucene import parser as lucene
from app.search.lucene.ast import QuerySyntaxError
from tests.search.external import fake_es_checks as checks
from tests.search.external import fake_es_dialects as dialects
from tests.search.external.fake_es_cluster import FakeError
from tests.search.external.fake_es_replies import aliases_done

if TYPE_CHECKING:
    from tests.search.external.fake_elasticsearch import FakeElasticsearch

SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


@dataclass(frozen=True)
class Slow:
    """An answer to send at ``at`` (``time.monotonic()``), when a slow search would end
    (the fake waits outside its lock, so other requests go on meanwhile)."""

    body: Any
    at: float


class Routes:
    """Dispatch by method and path shape; every handler runs under the cluster lock."""

    def __init__(self, fake: FakeElasticsearch) -> None:
        self.fake, self.cluster, self.engine = fake, fake.cluster, fake.engine

    def dispatch(self, method: str, parts: list[str], params: dict[str, str], raw: bytes) -> Any:
        """The JSON answer, or FakeError."""
        verb = parts[-1] if parts and parts[-1].startswith("_") else None
        target = parts[0] if parts and not parts[0].startswith("_") else None
        handler = {
            ("GET", None): self.engine.root,
            ("HEAD", None): lambda: {},
            ("PUT", None): lambda: self.create(target, _json(raw)),
            ("DELETE", None): lambda: self.delete(target),
            ("GET", "_alias"): lambda: self.get_alias(target, params),
            ("POST", "_aliases"): lambda: self.aliases(_json(raw)),
            ("POST", "_bulk"): lambda: self.bulk(raw, params),
            ("PUT", "_bulk"): lambda: self.bulk(raw, params),
            ("POST", "_search"): lambda: self.search(target, _json(raw)),
            ("POST", "_count"): lambda: self.count(target, _json(raw)),
            ("POST", "_refresh"): lambda: {"_shards": SHARDS},
            ("GET", "_mapping"): lambda: self.mapping(target),
        }.get((method, verb))
        if handler is None:
            self.fake.violate("a request the backend should not need")
            raise FakeError(400, "illegal_argument_exception", f"unsupported {method} {parts}")
        return handler()

    def create(self, name: str | None, body: dict[str, Any]) -> Any:
        parsed = checks.index_name(name or "", self.fake.prefix)
        if parsed is None:
            wanted = f"{self.fake.prefix}_async_event_{{event}}_v{{N}}"
            self.fake.violate(f"index name {name!r} is not {wanted}")
            raise FakeError(400, "invalid_index_name_exception", f"bad name {name}")
        try:
            dialects.check_settings(self.engine, body.get("settings", {}))
        except FakeError as refused:
            self.fake.violate(f"{self.engine.name} refuses the settings: {refused.reason}")
            raise
        for problem in checks.index_body(body):
            self.fake.violate(problem)
        alias = f"{self.fake.prefix}_async_event_{parsed[0]}"
        if body.get("aliases", {alias: {}}) != {alias: {}}:
            self.fake.violate(f"index {name} created with aliases {body['aliases']}")
        self.cluster.create(name, body)
        return {"acknowledged": True, "shards_acknowledged": True, "index": name}

    def delete(self, names: str | None) -> Any:
        for name in (names or "").split(","):
            if "*" in name or name not in self.cluster.indices:
                self.fake.violate(f"delete {name!r}: delete concrete indices by name")
                raise FakeError(404, "index_not_found_exception", f"no such index [{name}]")
            self.cluster.delete(name)
        return {"acknowledged": True}

    def get_alias(self, expression: str | None, params: dict[str, str]) -> Any:
        hidden = params.get("expand_wildcards") in ("all", "open,hidden", "hidden")
        names = self.cluster.resolve(expression or "*", hidden=hidden)
        aliases = {name: self.cluster.indices[name].aliases for name in names}
        return {name: {"aliases": {a: {} for a in found}} for name, found in aliases.items()}

    def aliases(self, body: dict[str, Any]) -> Any:
        try:
            dialects.check_alias_actions(self.engine, body.get("actions", []))
        except FakeError as refused:
            self.fake.violate(f"{self.engine.name} refuses the alias actions: {refused.reason}")
            raise
        for action in body.get("actions", []):
            ((kind, spec),) = action.items()
            if kind == "add" and checks.index_name(spec["index"], self.fake.prefix) is None:
                self.fake.violate(f"alias {spec} on an index not of ours")
        self.cluster.update_aliases(body.get("actions", []))
        return aliases_done(self.engine)

    def bulk(self, raw: bytes, params: dict[str, str]) -> Any:
        lines = [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        items, position = [], 0
        while position < len(lines):
            ((action, meta),) = lines[position].items()
            source = lines[position + 1] if action == "index" else None
            position += 2 if action == "index" else 1
            items.append({action: self.bulk_item(action, meta, source, params)})
        errors = any("error" in item[next(iter(item))] for item in items)
        return {"took": 1, "errors": errors, "items": items}

    def bulk_item(self, action: str, meta: dict, source: Any, params: dict[str, str]) -> Any:
        name, doc_id = meta.get("_index", ""), meta.get("_id", "")
        index = self.write_target(name, params.get("require_alias") == "true")
        if action not in ("index", "delete"):
            self.fake.violate(f"bulk action {action!r}")
            index = None
        if index is None:  # TransportBulkAction's words, in every engine (ES 7.10 and the fork)
            reason = f"no such index [{name}]"
            if params.get("require_alias") == "true":
                reason += (
                    f" and [require_alias] request flag is [true] and [{name}] is not an alias"
                )
            error = {"type": "index_not_found_exception", "reason": reason}
            return {"_index": name, "_id": doc_id, "status": 404, "error": error}
        if action == "index":
            key = checks.index_name(index, self.fake.prefix)
            for problem in checks.document(doc_id, source, key[0] if key else ""):
                self.fake.violate(problem)
        return self.cluster.write(index, action, doc_id, source)

    def write_target(self, name: str, through_alias: bool) -> str | None:
        """The concrete index a bulk item lands in: via an alias (``require_alias``), or a
        build (a version without alias) by name; anything else is not how we write."""
        behind = [n for n, index in self.cluster.indices.items() if name in index.aliases]
        if through_alias:
            if len(behind) != 1:
                return None  # ES: "not an alias" is an error
            self.check_not_rebuilding(behind[0])
            return behind[0]
        index = self.cluster.indices.get(name)
        if index is not None and not index.aliases:
            return name
        problem = "a live index by name (use its alias)" if index else "a missing index"
        self.fake.violate(f"bulk write to {problem} {name!r} without require_alias")
        return None

    def check_not_rebuilding(self, live: str) -> None:
        """A write to the live index while a newer version is being built would be lost
        when the rebuild swaps the alias: such rows must wait."""
        parsed = checks.index_name(live, self.fake.prefix)
        for name, index in self.cluster.indices.items():
            other = checks.index_name(name, self.fake.prefix)
            newer = parsed and other and other[0] == parsed[0] and other[1] > parsed[1]
            if newer and not index.aliases:
                self.fake.violate(f"wrote to {live} while {name} is being built")

    def search(self, expression: str | None, body: dict[str, Any]) -> Any:
        """A page of hits, or (size 0) a count, within the body's ``timeout`` as
        Elasticsearch keeps it: past it, what was found so far and ``timed_out: true``."""
        for problem in checks.search_body(body):
            self.fake.violate(problem)
        self.fake.searches.append(body)
        timeout = _timeout(body.get("timeout"))
        started = time.monotonic()
        hits = self.matches(expression, body)
        extra = self.fake.search_seconds + (self.fake.count_seconds if body.get("size") == 0 else 0)
        work = time.monotonic() - started + extra
        timed_out = timeout is not None and work > timeout and self.fake.honours_timeout
        if timed_out:  # it stops at the timeout, having read only part of the index
            hits = hits[: int(len(hits) * timeout / work)]
        after = body.get("search_after")
        hits = [hit for hit in hits if after is None or hit[0] < after[0]]
        found = [{"_index": i, "_id": str(n), "_score": None, "sort": [n]} for n, i in hits]
        total = {"total": {"value": len(hits), "relation": "eq"}} if body.get("size") == 0 else {}
        answer = {"took": 1, "timed_out": timed_out, "_shards": SHARDS}
        answer["hits"] = {**total, "hits": found[: body.get("size", 10)]}
        return Slow(answer, started + (min(work, timeout) if timed_out else work))

    def count(self, expression: str | None, body: dict[str, Any]) -> Any:
        for problem in checks.count_body(body):
            self.fake.violate(problem)
        unknown = sorted(set(body) - {"query"})
        if unknown:  # as RestCountAction: _count reads nothing but the query from a body
            raise FakeError(400, "parsing_exception", f"request does not support [{unknown[0]}]")
        return {"count": len(self.matches(expression, body)), "_shards": SHARDS}

    def matches(self, expression: str | None, body: dict[str, Any]) -> list[tuple[int, str]]:
        if expression != f"{self.fake.prefix}_async_event_*":
            self.fake.violate(f"searched {expression!r}, not every event's alias")
        text = body.get("query", {}).get("query_string", {}).get("query", "")
        try:
            query = lucene.parse(text)
        except QuerySyntaxError as exc:
            self.fake.violate(f"query_string {text!r} does not parse: {exc}")
            raise FakeError(400, "query_shard_exception", str(exc)) from None
        index = next(iter(self.cluster.resolve(expression or "")), expression or "")
        dialects.check_clauses(self.engine, query, text, self.fake.max_clause_count, index)
        return self.cluster.search(expression or "", query)

    def mapping(self, expression: str | None) -> Any:
        names = self.cluster.resolve(expression or "*", hidden=True)
        return {n: {"mappings": self.cluster.indices[n].body.get("mappings", {})} for n in names}


def _timeout(value: Any) -> float | None:
    """The seconds of a search's ``timeout``, None for none; refused as Elasticsearch would."""
    if value is None:
        return None
    seconds = checks.time_value(value)
    if seconds is None:
        reason = f"failed to parse setting [timeout] with value [{value}] as a time value: "
        fraction = re.fullmatch(r"\s*[0-9]*\.[0-9]+\s*[a-z]+\s*", str(value).lower())
        reason += "fractional time values are not supported" if fraction else "unit is missing"
        raise FakeError(400, "parse_exception", reason + ("" if fraction else " or unrecognized"))
    return None if seconds == float("inf") else seconds


def _json(raw: bytes) -> dict[str, Any]:
    return json.loads(raw or b"{}")
