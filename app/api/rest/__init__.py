"""The REST API under /rest: the original's routes, plus publish, history, trace and replay.

May import: ``app.api``'s boundary modules, the use cases and the layers below them.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template
from flask.typing import ResponseReturnValue

from app.api.rest import errors
from app.api.rest.spec import RestApi

PREFIX = "/rest"
TITLE = "Async Events REST API"
VERSION = "1.0.0"


def build() -> tuple[Blueprint, RestApi]:
    """A fresh blueprint with every operation registered on it."""
    from app.api.rest import logs, openapi, publish, subscriptions

    bp = Blueprint("rest", __name__, url_prefix=PREFIX)
    api = RestApi(bp)
    subscriptions.register(api)
    publish.register(api)
    logs.register(api)

    @bp.get("/openapi.json")
    def openapi_document() -> ResponseReturnValue:
        return jsonify(openapi.document(api, PREFIX, TITLE, VERSION))

    @bp.get("/docs")
    def docs() -> ResponseReturnValue:
        return render_template("rest_docs.html", spec=openapi.document(api, PREFIX, TITLE, VERSION))

    return bp, api


def init_app(app: Flask) -> None:
    """Register the API and its error shape."""
    bp, api = build()
    app.register_blueprint(bp)
    app.extensions["rest_api"] = api
    errors.register(app, PREFIX)
