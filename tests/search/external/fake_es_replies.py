"""Answers whose shape depends on the engine: errors, 401s, too many clauses, ``_aliases``.

An exception is ``{"error": {"root_cause": [...], "type", "reason", ...}, "status"}`` in
every engine; a refusal before any handler (an unsupported Content-Type) has the error
as a plain string. What differs is said beside each function, with its source.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from tests.search.external.fake_es_engines import ELASTICSEARCH, Engine


@dataclass
class Reply:
    """One HTTP answer: a JSON body (dict), or text (str) with its own Content-Type."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)
    authenticated: bool = True  # Elasticsearch sends no product header on a 401


def error(status: int, kind: str, reason: str, caused_by: dict | None = None, **more: Any) -> dict:
    """An exception's body; ``root_cause`` is the innermost cause but for search phases."""
    cause = {"type": kind, "reason": reason, **more}
    if caused_by is not None:
        cause["caused_by"] = caused_by
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], **cause}, "status": status}


def simple_error(status: int, message: str) -> dict:
    """A refusal before any handler: the error is a string."""
    return {"error": message, "status": status}


def unauthorized(engine: Engine, path: str, authorization: str | None) -> Reply:
    """The 401 when credentials are missing or wrong.

    Elasticsearch: a security_exception naming the request, with its three challenges
    in ``WWW-Authenticate`` (as quoted in
    https://github.com/loremipsumdonec/vscode-elasticdeveloper/issues/31) and no
    X-Elastic-Product (https://github.com/elastic/elasticsearch/pull/73434: "except
    unauthenticated ones"). The reasons for wrong credentials are from memory of 8.x,
    not confirmed. OpenSearch's security plugin: text ``Unauthorized`` and
    ``Basic realm="OpenSearch Security"`` (HTTPBasicAuthenticator.reRequestAuthentication:
    https://github.com/opensearch-project/security/blob/main/src/main/java/org/opensearch/security/http/HTTPBasicAuthenticator.java);
    it has no ``ApiKey`` scheme, so an API key gets the same challenge.
    """
    if engine.product != ELASTICSEARCH:
        challenge = [("WWW-Authenticate", 'Basic realm="OpenSearch Security"')]
        return Reply(401, "Unauthorized", challenge, authenticated=False)
    challenges = ['Basic realm="security" charset="UTF-8"', 'Bearer realm="security"', "ApiKey"]
    if authorization is None:
        reason = f"missing authentication credentials for REST request [{path}]"
    elif authorization.lower().startswith("basic "):
        user = _basic_user(authorization)
        reason = f"unable to authenticate user [{user}] for REST request [{path}]"
    else:
        reason = (
            "unable to authenticate with provided credentials and anonymous access"
            " is not allowed for this request"
        )
    body = error(401, "security_exception", reason, header={"WWW-Authenticate": challenges})
    body["error"]["root_cause"][0]["header"] = {"WWW-Authenticate": challenges}
    headers = [("WWW-Authenticate", value) for value in challenges]
    return Reply(401, body, headers, authenticated=False)


def _basic_user(authorization: str) -> str:
    try:
        return base64.b64decode(authorization.split(" ", 1)[1]).decode().split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return ""


def too_many_clauses(engine: Engine, limit: int, index: str) -> Reply:
    """A query with more leaves than maxClauseCount, refused at query rewrite.

    Lucene's IndexSearcher throws TooManyNestedClauses ("Query contains too many nested
    clauses; maxClauseCount is set to N"). Elasticsearch from 8.16 wraps it in an
    IllegalArgumentException, a 400 (body as in
    https://github.com/elastic/elasticsearch/pull/112678); earlier Elasticsearch and
    OpenSearch 2.19 / 3.1 let it through as a 500 search_phase_execution_exception
    (as reported in https://github.com/infiniflow/ragflow/issues/5131; OpenSearch's 400
    is https://github.com/opensearch-project/OpenSearch/pull/21725, after 3.1).
    """
    nested = {
        "type": "too_many_nested_clauses",
        "reason": f"Query contains too many nested clauses; maxClauseCount is set to {limit}",
    }
    cause = nested
    if engine.too_many_clauses_is_400:
        reason = "Query rewrite failed: too many clauses"
        cause = {"type": "illegal_argument_exception", "reason": reason, "caused_by": nested}
    status = 400 if engine.too_many_clauses_is_400 else 500
    root = {"type": cause["type"], "reason": cause["reason"]}
    shard = {"shard": 0, "index": index, "node": "fake-node", "reason": cause}
    failure = {
        "root_cause": [root],
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
        "phase": "query",
        "grouped": True,
        "failed_shards": [shard],
    }
    if engine.too_many_clauses_is_400:
        failure["caused_by"] = cause
    return Reply(status, {"error": failure, "status": status})


def aliases_done(engine: Engine) -> dict[str, Any]:
    """POST _aliases when every action applied (``errors`` since ES 8.14, see engines)."""
    return (
        {"acknowledged": True, "errors": False}
        if engine.aliases_report_errors
        else {"acknowledged": True}
    )
