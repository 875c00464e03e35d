"""REST operations declared once: the same declaration validates requests and writes OpenAPI."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from app.api.rest import auth
from app.api.rest.body import json_body
from app.api.rest.errors import ApiError

View = Callable[..., Any]


@dataclass
class Operation:
    """One route: how it is called, who may call it, and what it takes and returns."""

    method: str
    rule: str
    summary: str
    permission: str | None
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    headers: tuple[str, ...] = ()  # request headers the operation reads
    endpoint: str = ""


class RestApi:
    """Collects operations on a blueprint; ``openapi`` turns them into the document."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.operations: list[Operation] = []

    def operation(self, method: str, rule: str, **spec: Any) -> Callable[[View], View]:
        """Register ``view`` for ``method rule``; it gets ``body``/``query`` already validated."""

        def decorator(view: View) -> View:
            op = Operation(method, rule, endpoint=view.__name__, **spec)
            self.operations.append(op)

            @functools.wraps(view)
            def handle(**path: Any) -> Response:
                auth.require(op.permission)  # the boundary has checked the URL already
                if op.body is not None:
                    path["body"] = validate(op.body, json_body())
                if op.query is not None:
                    path["query"] = validate(op.query, request.args.to_dict())
                return respond(view(**path))

            self.blueprint.add_url_rule(rule, view.__name__, handle, methods=[method])
            return view

        return decorator


def validate(model: type[BaseModel], data: Any) -> BaseModel:
    """``data`` as ``model``, or a 400 listing every problem with its location."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = problems[0]
        raise ApiError(
            400, f"Invalid request: {first['field']}: {first['message']}", problems
        ) from None


def respond(result: Any) -> Response:
    """Turn a view's ``model`` or ``(model, status)`` into a JSON response."""
    status = 200
    if isinstance(result, tuple):
        result, status = result
    response = jsonify(dump(result))
    response.status_code = status
    return response


def dump(value: Any) -> Any:
    """JSON-ready form of models, and of lists and dicts of them."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """A Flask rule as an OpenAPI path, with its path parameters."""
    params = []
    for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule):
        kind = {
            "int": {"type": "integer", "minimum": 0},
            "uuid": {"type": "string", "format": "uuid"},
        }.get(converter, {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": kind})
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule), params
