"""The HTTP interface: health checks now; the REST API joins it here."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprints."""
    from app.api.health import bp as health

    app.register_blueprint(health)
