"""The HTTP interface: request limits for every route, health checks and the REST API.

May import: the use cases and every layer below them (``app.db.values`` checks request
values); never the dashboard or the CLI.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Install the request limits and the last-resort error handler, then the blueprints.

    Runs before the dashboard registers its routes, so the limits cover them too.
    """
    from app.api import boundary, last_resort, rest
    from app.api.health import bp as health

    boundary.init_app(app)
    last_resort.init_app(app)
    app.register_blueprint(health)
    rest.init_app(app)
