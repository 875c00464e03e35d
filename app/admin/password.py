"""Changing one's own password, and the gate that makes a flagged user do it first.

A user with ``must_change_password`` (the default account, or anyone who signed in
with the default password) can open only this page and sign out until a new password
is chosen, as Grafana does on its first sign-in. The REST API is not affected: it
authenticates with bearer tokens, not users.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from app.admin import auth
from app.models import User
from app.usecases import passwords

bp = Blueprint("password", __name__, url_prefix="/admin")

DASHBOARD_PREFIX = "/admin"
# What a flagged user may still reach: sign-in, sign-out, this page and the page's assets.
OPEN_ENDPOINTS = frozenset({"auth.login", "auth.logout", "password.change", "admin.static"})
TOO_SHORT = f"The new password must have at least {passwords.MIN_PASSWORD} characters."


class PasswordChangeForm(FlaskForm):
    """The current password, then the new one twice."""

    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=passwords.MIN_PASSWORD, message=TOO_SHORT)],
        description=f"At least {passwords.MIN_PASSWORD} characters, not the current one.",
    )
    confirm = PasswordField(
        "Confirm new password",
        validators=[DataRequired(), EqualTo("new", message="The two new passwords differ.")],
    )
    next = HiddenField()


@bp.before_app_request
def require_new_password() -> ResponseReturnValue | None:
    """Send a flagged user from any other dashboard page to this one (GETs keep ``next``)."""
    if not request.path.startswith(DASHBOARD_PREFIX) or request.endpoint in OPEN_ENDPOINTS:
        return None
    user = auth.current_user()
    if user is None or not user.must_change_password:
        return None
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("password.change", next=target))


@bp.route("/password", methods=["GET", "POST"])
def change() -> ResponseReturnValue:
    """Choose a new password; other sessions of the user end with the old one.

    Checking the current password counts as a sign-in attempt, throttled the same
    way, so a stolen session cannot be used to guess it.
    """
    user = auth.current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    form = PasswordChangeForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        status = _change(user, form)
        if status == 302:
            flash("Your password was changed.", "success")
            return redirect(auth.safe_next(form.next.data))
    page = render_template("admin/password.html", form=form, forced=user.must_change_password)
    return page, status


def _change(user: User, form: PasswordChangeForm) -> int:
    """Try the change; put any refusal on its field and return the status to answer."""
    throttles = auth.login_throttles(user.username)
    if not all([t.claim(key) for t, key in throttles]):
        form.current.errors = ["Too many failed attempts. Try again in a few minutes."]
        return 429
    try:
        passwords.change_own_password(user, form.current.data, form.new.data)
    except passwords.WrongPasswordError as exc:
        form.current.errors = [str(exc)]
        return 200
    except passwords.PasswordError as exc:
        form.new.errors, changed = [str(exc)], False
    else:
        auth.remember(user)  # this session goes on under the new password
        changed = True
    for t, key in throttles:
        t.reset(key)  # the current password was right
    return 302 if changed else 200
