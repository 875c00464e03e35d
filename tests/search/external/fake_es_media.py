"""Request and response media types per engine: what each refuses, and what our clients send.

``refusal`` answers as the engine does to headers it will not take (before any route).
``client_problems`` says where a request departs from what the app's client sends to
that engine (elasticsearch-py 9 with compatibility headers for Elasticsearch 8 and 9,
opensearch-py with plain JSON for OpenSearch, plain JSON for the handshake): those are
violations even when the engine would answer. ``response_type`` is the Content-Type of
the answer.
"""

from __future__ import annotations

from typing import Any

from tests.search.external.fake_es_engines import ELASTICSEARCH, Engine
from tests.search.external.fake_es_replies import Reply, error, simple_error

VND = "application/vnd.elasticsearch+"
# Bodies each engine parses (XContentType: json, smile, yaml, cbor; x-ndjson is JSON);
# Elasticsearch adds the vnd.elasticsearch+ forms of each with compatible-with.
PLAIN = {f"application/{kind}" for kind in ("json", "x-ndjson", "smile", "yaml", "cbor")}


def parse(value: str | None) -> tuple[str, dict[str, str]] | None:
    """``(type/subtype, parameters)`` of a media-type header, lower-cased; None if absent."""
    if not value:
        return None
    base, *params = (part.strip() for part in value.split(";"))
    pairs = (param.partition("=") for param in params if "=" in param)
    return base.lower(), {k.strip().lower(): v.strip().lower() for k, _, v in pairs}


def _compat(media: tuple[str, dict[str, str]] | None) -> int | None:
    if media is None or "compatible-with" not in media[1]:
        return None
    return int(media[1]["compatible-with"])


def refusal(engine: Engine, headers: Any, has_body: bool) -> Reply | None:
    """The engine's answer to headers it refuses, or None when it takes them."""
    if engine.product == ELASTICSEARCH:
        refused = _versions(engine, headers, has_body)
        if refused is not None:
            return refused
    if not has_body:
        # OpenSearch answers an Accept it does not know in JSON, no refusal:
        # AbstractRestChannel.newBuilder falls back to the request's type, then JSON
        # (https://github.com/opensearch-project/OpenSearch/blob/main/server/src/main/java/org/opensearch/rest/AbstractRestChannel.java).
        return None
    media = parse(headers.get("content-type"))
    known = PLAIN | ({VND + k.split("/")[1] for k in PLAIN} if engine.compatible_majors else set())
    if media is None or media[0] not in known:
        # 406 with the error as a string, in every engine (RestController
        # .sendContentTypeErrorMessage; OpenSearch:
        # https://github.com/opensearch-project/OpenSearch/blob/main/server/src/main/java/org/opensearch/rest/RestController.java).
        # OpenSearch refuses the vnd.elasticsearch types so, as reported against AWS
        # OpenSearch in https://github.com/elastic/elasticsearch-php/issues/1347.
        raw = headers.get("content-type")
        message = f"Content-Type header [{raw}] is not supported" if raw else None
        return Reply(406, simple_error(406, message or "Content-Type header is missing"))
    return None


def _versions(engine: Engine, headers: Any, has_body: bool) -> Reply | None:
    """Elasticsearch's RestCompatibleVersionHelper.getCompatibleVersion, message for message:
    https://github.com/elastic/elasticsearch/blob/main/server/src/main/java/org/elasticsearch/rest/RestCompatibleVersionHelper.java
    """
    accept_raw, type_raw = headers.get("accept"), headers.get("content-type")
    a_version, c_version = _compat(parse(accept_raw)), _compat(parse(type_raw))
    accept = engine.major if a_version is None else a_version
    content = engine.major if c_version is None else c_version
    low, high = min(engine.compatible_majors), max(engine.compatible_majors)
    if not low <= accept <= high:
        either = f"Accept version must be either version {high} or {low}"
        return _status(f"{either}, but found {accept}. Accept={accept_raw}")
    if not has_body:
        return None
    both = f"Accept={accept_raw}, Content-Type={type_raw}"
    if not low <= content <= high:
        found = f"but found {content}. Content-Type={type_raw}"
        return _status(f"Content-Type version must be either version {high} or {low}, {found}")
    required = (
        "A compatible version is required on both Content-Type and Accept headers"
        " if either one has requested a compatible version"
    )
    if content != accept:
        return _status(f"{required} and the compatible versions must match. {both}")
    if (a_version is None) != (c_version is None):
        return _status(f"{required}. {both}")
    return None


def _status(message: str) -> Reply:
    """A 400 media_type_header_exception caused by the status_exception, as
    https://github.com/elastic/elasticsearch/pull/80253 answers it (before, a 500)."""
    reason = "Invalid media-type value on headers [Accept, Content-Type]"
    cause = {"type": "status_exception", "reason": message}
    return Reply(400, error(400, "media_type_header_exception", reason, caused_by=cause))


def response_type(engine: Engine, headers: Any) -> str:
    """The Content-Type of a JSON answer.

    Elasticsearch 8+ answers a compatible Accept in kind
    (``application/vnd.elasticsearch+json;compatible-with=8``, seen in
    https://github.com/elastic/elasticsearch-java/issues/286) and plain JSON as
    ``application/json`` (not confirmed here: from memory of 8.x responses). 7.x and
    OpenSearch say ``application/json; charset=UTF-8`` (the 7.10 XContentType.JSON).
    """
    version = _compat(parse(headers.get("accept")))
    if engine.product == ELASTICSEARCH and engine.major >= 8:
        if version is not None:
            return f"{VND}json;compatible-with={version}"
        return "application/json"
    return "application/json; charset=UTF-8"


def client_problems(engine: Engine, parts: list[str], headers: Any, has_body: bool) -> list[str]:
    """Where the headers differ from what the app's client sends this engine."""
    versioned = engine.product == ELASTICSEARCH and bool(parts)  # the handshake is plain
    compat = {"compatible-with": str(engine.major)} if versioned else {}
    prefix = VND if versioned else "application/"
    bulk = bool(parts) and parts[-1] == "_bulk"
    wanted = [("Accept", (f"{prefix}json", compat))]
    if has_body:
        wanted.append(("Content-Type", (f"{prefix}{'x-ndjson' if bulk else 'json'}", compat)))
    problems = []
    for name, media in wanted:
        found = parse(headers.get(name))
        if found is None or found[0] != media[0] or _compat(found) != _compat(media):
            problems.append(f"{name} {headers.get(name)!r}: {engine.name}'s client sends {media}")
    return problems
