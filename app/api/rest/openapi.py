"""The OpenAPI 3.1 document, generated from the registered operations and their models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.api.rest.spec import Operation, RestApi, openapi_path

ERROR_TEXT = {
    400: "Bad input",
    401: "No or bad credentials",
    403: "The token lacks the permission",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    414: "Query string too large",
    415: "Body is not JSON",
    422: "Valid JSON that cannot be acted on",
    429: "Too many failed authentication attempts",
    431: "Headers too large",
    503: "The search backend is unreachable",
}


# What any request may get from app.api.boundary, before its operation runs: NUL in a
# path or query value (400), an oversized query string (414) or oversized headers (431).
BOUNDARY = {400, 414, 431}


class Components:
    """Collects model schemas under ``#/components/schemas``."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        """A ``$ref`` to ``model``, adding it (and the models it uses) to the components."""
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def document(api: RestApi, prefix: str, title: str, version: str) -> dict[str, Any]:
    """The whole document: every operation, its parameters, bodies, responses and security."""
    components = Components()
    components.schemas["Error"] = {
        "type": "object",
        "required": ["message", "parameters"],
        "properties": {"message": {"type": "string"}, "parameters": {}},
    }
    paths: dict[str, Any] = {}
    for op in api.operations:
        path, params = openapi_path(prefix + op.rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, params, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(op: Operation, params: list[dict[str, Any]], comp: Components) -> dict[str, Any]:
    spec: dict[str, Any] = {"operationId": op.endpoint, "summary": op.summary, "tags": [op.tag]}
    parameters = list(params) + [
        {"name": h, "in": "header", "required": False, "schema": {"type": "string"}}
        for h in op.headers
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        spec["parameters"] = parameters
    if op.body is not None:
        content = {"application/json": {"schema": comp.ref(op.body)}}
        spec["requestBody"] = {"required": True, "content": content}
    spec["responses"] = _responses(op, comp)
    if op.permission is not None:
        spec["security"] = [{"bearer": []}]
        spec["description"] = f"Needs the `{op.permission}` permission (or `manage`)."
    return spec


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _responses(op: Operation, comp: Components) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in op.responses.items():
        entry: dict[str, Any] = {"description": "Success"}
        if model is not None:
            entry["content"] = {"application/json": {"schema": comp.ref(model)}}
        responses[str(status)] = entry
    codes = set(op.errors) | BOUNDARY | ({401, 403, 429} if op.permission else set())
    codes |= {413, 415} if op.body is not None else set()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for status in sorted(codes):
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": error}
    return responses
