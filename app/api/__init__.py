"""The HTTP interface: health checks and the REST API."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprints."""
    from app.api import rest
    from app.api.health import bp as health

    app.register_blueprint(health)
    rest.init_app(app)
