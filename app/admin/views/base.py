"""What every dashboard view shares: its permission check, and forms protected by CSRF."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_wtf import FlaskForm

from app.admin import auth
from app.services import access


class Protected:
    """A view that needs ``permission``: signed-out users go to the login, others get a 403.

    Flask-Admin calls ``is_accessible`` before every route of the view and hides the
    menu entries of views that are not, so one attribute guards a whole screen.
    """

    permission: str = "manage"

    def is_accessible(self) -> bool:
        return self.allowed(self.permission)

    @staticmethod
    def allowed(permission: str) -> bool:
        """Whether the signed-in user has ``permission``."""
        return auth.current_user() is not None and access.allows(auth.permissions(), permission)

    def inaccessible_callback(self, name: str, **kwargs: Any) -> ResponseReturnValue:
        if auth.current_user() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    def require(self, permission: str) -> None:
        """Stop a single route whose permission is stricter than the view's."""
        if not self.allowed(permission):
            abort(403)


class SecuredView(Protected, BaseView):
    """A custom dashboard screen."""


class SecuredIndexView(Protected, AdminIndexView):
    """The dashboard's home."""

    permission = "view"


class SecuredModelView(Protected, ModelView):
    """A grid over a model; every form it renders carries a CSRF token."""

    form_base_class = FlaskForm
    can_delete = False  # the original has no delete: logs stay append-only, disable instead
    page_size = 50
    can_set_page_size = True
