"""Dashboard sign-in and sign-out, the signed-in user, and throttled failed logins."""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired

from app.extensions import db
from app.models import User
from app.usecases import access, passwords
from app.usecases.throttle import Throttle

bp = Blueprint("auth", __name__, url_prefix="/admin")


class LoginForm(FlaskForm):
    """Username and password; ``next`` is where to go after signing in."""

    username = StringField("Username", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    next = HiddenField()


def current_user() -> User | None:
    """The signed-in, still active user whose password has not changed since, or None."""
    if "user" not in g:
        user = db.session.get(User, session["uid"]) if "uid" in session else None
        if user is not None and (not user.active or session.get("fp") != _fingerprint(user)):
            user = None
        g.user = user
    return g.user


def permissions() -> frozenset[str]:
    """The signed-in user's permissions (none when signed out)."""
    user = current_user()
    return access.role_permissions(user.role) if user is not None else frozenset()


def _fingerprint(user: User) -> str:
    """Changes when the password does, which ends every session signed in with the old one."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def login_throttles(username: str) -> list[tuple[Throttle, str]]:
    """The sign-in throttles that apply: per client address and per username."""
    config = current_app.config
    limit, window = config["ADMIN_LOGIN_FAILURE_LIMIT"], config["ADMIN_LOGIN_FAILURE_WINDOW"]
    by_client = Throttle("login", limit, window), request.remote_addr or "unknown"
    by_name = Throttle("login_user", limit, window), username.lower()
    return [by_client, by_name]


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in; attempts are counted per client and per username, then refused for a while.

    Each attempt is counted before its password is checked, so parallel guesses cannot
    slip past the limit; a success forgets the count. Signing in with the default
    password flags the user to choose a new one (``app.admin.password``).
    """
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("admin/login.html", form=form)
    throttles = login_throttles(form.username.data)
    if not all([t.claim(key) for t, key in throttles]):  # a list: claim every one
        flash("Too many failed sign-in attempts. Try again in a few minutes.", "error")
        return render_template("admin/login.html", form=form), 429
    user = access.check_user(form.username.data, form.password.data)
    if user is None:
        flash("Invalid username or password.", "error")
        return render_template("admin/login.html", form=form), 401
    for t, key in throttles:
        t.reset(key)
    if passwords.is_default_password(form.password.data):
        passwords.require_new_password(user)
    session.clear()  # a fresh session: nothing set before sign-in survives it
    session.permanent = True
    remember(user)
    return redirect(safe_next(form.next.data))


def remember(user: User) -> None:
    """Keep ``user`` signed in, under the fingerprint of their current password."""
    session.update(uid=user.id, fp=_fingerprint(user))
    g.user = user


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with a CSRF token, so another site cannot sign an operator out)."""
    session.clear()
    flash("You have signed out.", "info")
    return redirect("/admin/login")


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help phishing."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/admin/"
