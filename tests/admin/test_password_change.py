"""The default account must choose a new password before any other dashboard page opens."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import User
from app.usecases import access

NEW = "a new and long password"


def sign_in(app: Flask, username: str = "admin", password: str = "admin") -> FlaskClient:
    client = app.test_client()
    reply = client.post("/admin/login", data={"username": username, "password": password})
    assert reply.status_code == 302, reply.text
    return client


def flagged(app: Flask, username: str = "admin") -> bool:
    with app.app_context():
        return access.find_user(username).must_change_password


def change(client: FlaskClient, current: str = "admin", new: str = NEW, confirm: str = NEW):
    form = {"current": current, "new": new, "confirm": confirm}
    return client.post("/admin/password?next=/admin/logs/", data=form)


@pytest.fixture
def default_admin(app: Flask, runner) -> Flask:
    """`make run`'s account: `flask create-admin --default --if-missing`, CSRF off."""
    result = runner.invoke(args=["create-admin", "--default", "--if-missing"])
    assert result.exit_code == 0 and "must choose a new one" in result.output
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def test_only_the_default_password_sets_the_flag(app: Flask, runner) -> None:
    runner.invoke(args=["create-admin", "--default"])
    result = runner.invoke(args=["create-admin", "ops", "--password", "chosen by the operator"])
    assert result.exit_code == 0 and "must choose" not in result.output
    assert flagged(app, "admin") and not flagged(app, "ops")
    runner.invoke(args=["create-admin", "admin", "--password", "chosen by the operator"])
    assert not flagged(app, "admin")  # an operator who sets a password has chosen it


def test_every_page_leads_to_the_change_until_it_is_done(default_admin: Flask, api) -> None:
    client, token = sign_in(default_admin), api.token("view")
    for path in ("/admin/", "/admin/logs/?q=x", "/admin/subscribers/", "/admin/users/"):
        reply = client.get(path)
        assert reply.status_code == 302, path
        assert reply.headers["Location"].startswith("/admin/password?next="), path
    created = client.post("/admin/users/", data={"username": "x", "role": "viewer"})
    assert created.headers["Location"] == "/admin/password"
    with default_admin.app_context():
        assert access.find_user("x") is None  # the POST did nothing
    page = client.get("/admin/password")
    assert page.status_code == 200 and b"Choose a new password" in page.data
    assert api.call("GET", "/rest/V1/async_events", token).status_code == 200  # tokens unaffected
    reply = change(client)
    assert reply.status_code == 302 and reply.headers["Location"] == "/admin/logs/"
    assert client.get("/admin/").status_code == 200 and not flagged(default_admin)


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong", NEW, NEW, b"The current password is wrong."),
        ("admin", "short", "short", b"at least 10 characters"),
        ("admin", NEW, NEW + "!", b"The two new passwords differ."),
        ("admin", "", "", b"This field is required."),
    ],
    ids=["wrong-current", "too-short", "not-confirmed", "empty"],
)
def test_a_bad_choice_is_refused_and_says_why(default_admin, current, new, confirm, message):
    client = sign_in(default_admin)
    reply = change(client, current, new, confirm)
    assert reply.status_code == 200 and message in reply.data
    assert flagged(default_admin) and client.get("/admin/").status_code == 302


def test_the_new_password_must_differ_and_not_be_the_default(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        access.create_user("ops", NEW)
    client = sign_in(app, "ops", NEW)
    reply = change(client, NEW, NEW, NEW)
    assert b"must differ from the current one" in reply.data
    app.config["ADMIN_DEFAULT_PASSWORD"] = "default password"
    reply = change(client, NEW, "default password", "default password")
    assert b"must not be the default password" in reply.data
    assert sign_in(app, "ops", NEW)  # still the old password


def test_a_changed_password_ends_other_sessions_but_this_one(default_admin: Flask) -> None:
    here, elsewhere = sign_in(default_admin), sign_in(default_admin)
    assert change(here).status_code == 302
    assert here.get("/admin/").status_code == 200
    assert "/admin/login" in elsewhere.get("/admin/").headers["Location"]
    sign_in(default_admin, "admin", NEW)


def test_an_account_from_before_the_flag_is_caught_at_sign_in(default_admin: Flask) -> None:
    with default_admin.app_context():
        db.session.execute(db.update(User).values(must_change_password=False))
        db.session.commit()
    client = sign_in(default_admin)  # still admin / admin
    assert client.get("/admin/").headers["Location"].startswith("/admin/password")
    assert flagged(default_admin)


def test_wrong_current_passwords_are_throttled_like_sign_ins(default_admin: Flask) -> None:
    client, limit = sign_in(default_admin), default_admin.config["ADMIN_LOGIN_FAILURE_LIMIT"]
    codes = [change(client, current="wrong").status_code for _ in range(limit)]
    assert codes == [200] * limit
    reply = change(client)  # the right one, too late
    assert reply.status_code == 429 and b"Too many failed attempts" in reply.data
    assert flagged(default_admin)


def test_the_change_needs_a_csrf_token(default_admin: Flask) -> None:
    client = sign_in(default_admin)
    default_admin.config["WTF_CSRF_ENABLED"] = True
    reply = change(client)
    assert reply.status_code == 400 and b"CSRF" in reply.data
    assert flagged(default_admin)
