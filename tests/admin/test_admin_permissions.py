"""Every dashboard route, walked with every role: who may see it, who may act, and CSRF.

The table names each route's permission. A route missing from it fails the test, so a
new screen cannot ship without a decision about who may use it.
"""

from __future__ import annotations

import uuid as uuidlib

import pytest
from flask import Flask

from app.extensions import db
from app.models import DeadLetter, DeliveryLog, Subscription
from app.usecases import access, subscriptions

NOBODY = "no one"  # routes that no role may use (the original has no delete)
# endpoint -> {method: permission}
ROUTES: dict[str, dict[str, str]] = {
    "admin.index": {"GET": "view"},
    "subscribers.index_view": {"GET": "view"},
    "subscribers.details_view": {"GET": "view"},
    "subscribers.export": {"GET": "view"},
    "subscribers.ajax_lookup": {"GET": "view"},
    "subscribers.create_view": {"GET": "save", "POST": "save"},
    "subscribers.edit_view": {"GET": "save", "POST": "save"},
    "subscribers.action_view": {"POST": "save"},
    "subscribers.ajax_update": {"POST": "save"},
    "subscribers.rotate_view": {"POST": "save"},
    "subscribers.delete_view": {"POST": NOBODY},
    "logs.index": {"GET": "logs_list"},
    "logs.export_csv": {"GET": "logs_list"},
    "logs.replay_matching": {"GET": "logs_replay", "POST": "logs_replay"},
    "trace.index": {"GET": "logs_trace"},
    "trace.show": {"GET": "logs_trace"},
    "trace.replay": {"POST": "logs_replay"},
    "dead_letters.index": {"GET": "logs_list"},
    "dead_letters.replay_one": {"POST": "logs_replay"},
    "dead_letters.replay_selected": {"POST": "logs_replay"},
    "configuration.index": {"GET": "manage", "POST": "manage"},
    "tokens.index": {"GET": "manage", "POST": "manage"},
    "tokens.revoke": {"POST": "manage"},
    "users.index": {"GET": "manage", "POST": "manage"},
    "users.set_active": {"POST": "manage"},
    "users.reset_password": {"POST": "manage"},
}
ROLES = [None, "viewer", "operator", "admin"]
PASSWORD = "a long enough password"


@pytest.fixture
def seeded(app: Flask) -> dict[str, object]:
    """One of everything a route can be about; returns the URL arguments."""
    with app.app_context():
        sub = subscriptions.create("example.event", "http://127.0.0.1:9/hook", "secret")
        chain = str(uuidlib.uuid4())
        db.session.add(DeliveryLog(uuid=chain, subscription_id=sub.subscription_id, success=False))
        letter = DeadLetter(
            uuid=chain, subscription_id=sub.subscription_id, death_count=1, reason="exhausted"
        )
        db.session.add(letter)
        db.session.commit()
        token, _ = access.create_token("walk", ["view"])
        other = access.create_user("someone", PASSWORD, role="viewer")
        for role in access.ROLES:
            access.create_user(f"u_{role}", PASSWORD, role=role)
        args = {
            "subscription_id": sub.subscription_id,
            "uuid": chain,
            "letter_id": letter.id,
            "token_id": token.id,
            "user_id": other.id,
            "export_type": "csv",
            "id": sub.subscription_id,
        }
        db.session.remove()
    return args


def _url(app: Flask, endpoint: str, args: dict[str, object]) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        from flask import url_for

        values = {name: args[name] for name in rule.arguments}
        if endpoint.endswith(("details_view", "edit_view")):
            values["id"] = args["id"]
        return url_for(endpoint, **values)


def _client(app: Flask, role: str | None):
    client = app.test_client()
    if role is not None:
        reply = client.post("/admin/login", data={"username": f"u_{role}", "password": PASSWORD})
        assert reply.status_code == 302, reply.text
    return client


def test_every_dashboard_route_is_in_the_table(app: Flask) -> None:
    found = {
        r.endpoint
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/admin") and not r.endpoint.endswith("static")
    }
    # Open to anyone signed in: tests/admin/test_password_change.py covers the password page.
    assert found - {"auth.login", "auth.logout", "password.change"} == set(ROUTES)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "signed-out")
def test_each_role_reaches_exactly_its_routes(app: Flask, seeded, role: str | None) -> None:
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own test below
    client = _client(app, role)
    granted = access.role_permissions(role) if role else frozenset()
    for endpoint, methods in ROUTES.items():
        for method, permission in methods.items():
            reply = client.open(_url(app, endpoint, seeded), method=method)
            where = f"{method} {endpoint} as {role}: {reply.status_code}"
            if role is None:
                assert reply.status_code == 302, where
                assert "/admin/login" in reply.headers["Location"], where
            elif permission != NOBODY and access.allows(granted, permission):
                assert reply.status_code < 500 and reply.status_code not in (401, 403), where
                assert "/admin/login" not in reply.headers.get("Location", ""), where
            else:
                assert reply.status_code in (403, 404, 405) or (
                    permission == NOBODY and reply.status_code == 302
                ), where


def test_every_form_post_without_a_csrf_token_is_refused(app: Flask, seeded) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    client = _client(app, "admin")
    app.config["WTF_CSRF_ENABLED"] = True
    for endpoint, methods in ROUTES.items():
        if "POST" in methods:
            reply = client.post(_url(app, endpoint, seeded))
            assert reply.status_code == 400, f"POST {endpoint}: {reply.status_code}"
            assert b"CSRF" in reply.data, endpoint
    reply = client.post("/admin/logout")
    assert reply.status_code == 400


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_mass_disable_needs_save(app: Flask, seeded, role: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    form = {"action": "disable", "rowid": str(seeded["subscription_id"])}
    _client(app, role).post("/admin/subscribers/action/", data=form)
    with app.app_context():
        sub = db.session.get(Subscription, seeded["subscription_id"])
        assert sub.status is (role == "viewer")


def test_no_role_can_delete_a_subscription(app: Flask, seeded) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    client = _client(app, "admin")
    client.post("/admin/subscribers/delete/", data={"id": seeded["subscription_id"]})
    with app.app_context():
        assert db.session.get(Subscription, seeded["subscription_id"]) is not None


def test_a_user_who_must_change_the_password_reaches_no_route(app: Flask, seeded) -> None:
    """Signed in with the default password: every route leads to the password page."""
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        access.create_user("u_admin", app.config["ADMIN_DEFAULT_PASSWORD"], role="admin")
    client = app.test_client()
    form = {"username": "u_admin", "password": app.config["ADMIN_DEFAULT_PASSWORD"]}
    assert client.post("/admin/login", data=form).status_code == 302
    for endpoint, methods in ROUTES.items():
        for method in methods:
            reply = client.open(_url(app, endpoint, seeded), method=method)
            where = f"{method} {endpoint}: {reply.status_code}"
            assert reply.status_code == 302, where
            assert reply.headers["Location"].startswith("/admin/password"), where
