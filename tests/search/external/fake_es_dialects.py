"""Request bodies one engine refuses and another takes: index settings, alias actions, clauses.

Each function raises ``FakeError`` with the engine's own refusal, or returns quietly.
The routes call them before the engine-independent checks of ``fake_es_checks``.
"""

from __future__ import annotations

from typing import Any

from app.search.lucene.ast import Bool, Query
from tests.search.external.fake_es_cluster import FakeError
from tests.search.external.fake_es_engines import Engine
from tests.search.external.fake_es_replies import too_many_clauses

IGNORE_DYNAMIC = "index.mapping.total_fields.ignore_dynamic_beyond_limit"
# Index settings every engine has (and the fake knows): IndexMetadata, MapperService.
SETTINGS = {
    "index.hidden",
    "index.number_of_shards",
    "index.number_of_replicas",
    "index.mapping.total_fields.limit",
    "index.mapping.depth.limit",
}
# Fields of each alias action in every engine:
# https://www.elastic.co/guide/en/elasticsearch/reference/8.11/indices-aliases.html,
# https://docs.opensearch.org/latest/api-reference/index-apis/alias/
ACTION_FIELDS = {
    "add": {
        "index",
        "indices",
        "alias",
        "aliases",
        "filter",
        "routing",
        "is_hidden",
        "is_write_index",
    },
    "remove": {"index", "indices", "alias", "aliases"},
    "remove_index": {"index", "indices"},
}


def check_settings(engine: Engine, settings: dict[str, Any]) -> None:
    """Refuse a setting the engine does not have, as AbstractScopedSettings.validate does
    (the same words in both engines; e.g.
    https://github.com/elastic/elasticsearch/issues/81916)."""
    known = SETTINGS | ({IGNORE_DYNAMIC} if engine.ignores_dynamic_beyond_limit else set())
    for name in sorted(_flat(settings)):
        full = name if name.startswith("index.") else f"index.{name}"
        if full not in known:
            reason = (
                f"unknown setting [{full}] please check that any required plugins are installed,"
                " or check the breaking changes documentation for removed settings"
            )
            raise FakeError(400, "illegal_argument_exception", reason)


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_alias_actions(engine: Engine, actions: list[dict[str, Any]]) -> None:
    """Refuse a field the engine's alias action parser does not know, as its
    ObjectParser does (400 x_content_parse_exception, nested; the ``[line:column]``
    positions are the fake's, the real ones point into the body). ``must_exist`` on
    ``add`` is not modelled: the app never sends it."""
    for action in actions:
        ((kind, spec),) = action.items()
        allowed = set(ACTION_FIELDS.get(kind, ()))
        if kind == "remove" and engine.alias_remove_must_exist:
            allowed.add("must_exist")
        if kind == "remove_index" and engine.alias_remove_index_must_exist:
            allowed.add("must_exist")
        unknown = sorted(set(spec) - allowed)
        if kind not in ACTION_FIELDS or unknown:
            field = unknown[0] if unknown else kind
            inner = {
                "type": "x_content_parse_exception",
                "reason": f"[1:2] [{kind}] unknown field [{field}]",
            }
            middle = {
                "type": "x_content_parse_exception",
                "reason": f"[1:2] [alias_action] failed to parse field [{kind}]",
                "caused_by": inner,
            }
            body = {
                "error": {
                    "root_cause": [inner],
                    "type": "x_content_parse_exception",
                    "reason": "[1:2] [aliases] failed to parse field [actions]",
                    "caused_by": middle,
                },
                "status": 400,
            }
            raise FakeError(400, "x_content_parse_exception", inner["reason"], body=body)


def check_clauses(engine: Engine, query: Query, text: str, limit: int, index: str) -> None:
    """Refuse a query over maxClauseCount as the engine does.

    A single boolean of more than ``limit`` clauses fails while query_string parses it
    (Lucene's BooleanQuery.Builder.add throws TooManyClauses, QueryParserBase.parse makes
    it "Cannot parse '…': too many boolean clauses", QueryStringQueryBuilder a
    QueryShardException, a 400) in every engine. Fewer per boolean but more leaves in all
    fails later, at rewrite, as ``fake_es_replies.too_many_clauses`` says per engine. The
    chain of causes is read from those sources; the full body is not confirmed against a
    running engine.
    """
    if _widest(query) > limit:
        parse = {
            "type": "parse_exception",
            "reason": f"Cannot parse '{text}': too many boolean clauses",
            "caused_by": {
                "type": "too_many_clauses",
                "reason": f"maxClauseCount is set to {limit}",
            },
        }
        shard = {"type": "query_shard_exception", "reason": f"Failed to parse query [{text}]"}
        failed = {
            "shard": 0,
            "index": index,
            "node": "fake-node",
            "reason": {**shard, "caused_by": parse},
        }
        failure = {
            "root_cause": [shard],
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "phase": "query",
            "grouped": True,
            "failed_shards": [failed],
        }
        raise FakeError(400, shard["type"], shard["reason"], body={"error": failure, "status": 400})
    if _leaves(query) > limit:
        reply = too_many_clauses(engine, limit, index)
        raise FakeError(reply.status, "too_many_nested_clauses", "", body=reply.body)


def _widest(query: Query) -> int:
    """The most clauses any one boolean of the tree holds."""
    if not isinstance(query, Bool):
        return 0
    return max([len(query.clauses), *(_widest(clause.query) for clause in query.clauses)])


def _leaves(query: Query) -> int:
    """The clauses Lucene counts against maxClauseCount at rewrite: every leaf."""
    if isinstance(query, Bool):
        return sum(_leaves(clause.query) for clause in query.clauses)
    return 1
