"""The operator dashboard: Flask-Admin behind a login, with CSRF, CSP, throttled sign-in
and a forced change of the default password.

May import: the use cases and every layer below them; never the REST API or the CLI.
"""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from app.admin import auth, password, security


def init_app(app: Flask) -> None:
    """Mount the dashboard at /admin. Call after the REST API, whose routes skip CSRF."""
    from app.admin.views import HomeView, register

    security.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(password.bp)
    app.jinja_env.globals["current_user"] = auth.current_user
    admin = Admin(
        app,
        name="Async Events",
        url="/admin",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/ae_master.html", fluid=True),
        csp_nonce_generator=security.csp_nonce,
    )
    register(admin)
