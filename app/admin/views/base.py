"""What every dashboard view shares: its permission check, forms protected by CSRF, row ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import abort, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import AdminIndexView, BaseView
from flask_admin.contrib.sqla import ModelView
from flask_wtf import FlaskForm

from app.admin import auth
from app.db import values
from app.usecases import access

# The converter of a path segment that is the id of a row in an INTEGER column (32-bit on
# PostgreSQL): a larger number cannot be a row, so the route answers 404 without a query.
ID32 = f"int(max={values.INT32[1]})"


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


def row_id(raw: str | None, bounds: tuple[int, int] = values.INT32) -> int | None:
    """``raw`` as the id of a row whose key column holds ``bounds``, or None if it cannot be one."""
    number = values.whole(raw) if raw else None
    return number if number is not None and values.within(number, bounds) else None


def row_ids(raw: Iterable[str], bounds: tuple[int, int] = values.INT32) -> list[int]:
    """Every id in ``raw`` (a form's checked rows); a 400 if one cannot be a row's id."""
    ids = []
    for text in raw:
        number = row_id(text, bounds)
        if number is None:
            abort(400, f"{text[:100]!r} is not the id of a row.")
        ids.append(number)
    return ids
