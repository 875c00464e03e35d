"""Every route of the home, subscriber, configuration, token and user screens, with each role."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Subscription
from app.services import access, subscriptions

# (method, path, the permission it needs)
ROUTES = [
    ("GET", "/admin/", "view"),
    ("GET", "/admin/subscribers/", "view"),
    ("GET", "/admin/subscribers/new/", "save"),
    ("GET", "/admin/subscribers/edit/?id={sub}", "save"),
    ("POST", "/admin/subscribers/new/", "save"),
    ("POST", "/admin/subscribers/edit/?id={sub}", "save"),
    ("POST", "/admin/subscribers/rotate/{sub}", "save"),
    ("GET", "/admin/configuration/", "manage"),
    ("POST", "/admin/configuration/", "manage"),
    ("GET", "/admin/tokens/", "manage"),
    ("POST", "/admin/tokens/", "manage"),
    ("POST", "/admin/tokens/revoke/{token}", "manage"),
    ("GET", "/admin/users/", "manage"),
    ("POST", "/admin/users/", "manage"),
    ("POST", "/admin/users/{user}/password", "manage"),
]


@pytest.mark.parametrize("role", sorted(access.ROLES))
def test_each_route_allows_exactly_the_roles_with_its_permission(role, login, in_app) -> None:
    ids = {
        "sub": in_app(
            lambda: subscriptions.create("example.event", "http://x.test/", "t").subscription_id
        ),
        "token": in_app(lambda: access.create_token("t", ["view"])[0].id),
        "user": in_app(lambda: access.create_user("other", "other-password", "viewer").id),
    }
    page = login(role)
    csrf = {"csrf_token": page.locator("input[name=csrf_token]").first.input_value()}
    granted = access.role_permissions(role)
    for method, path, permission in ROUTES:
        url = path.format(**ids)
        response = page.request.fetch(url, method=method, form=csrf if method == "POST" else None)
        allowed = access.allows(granted, permission)
        assert (response.status != 403) == allowed, (role, method, url, response.status)
    form = {**csrf, "action": "disable", "rowid": str(ids["sub"])}
    page.request.post("/admin/subscribers/action/", form=form)
    enabled = in_app(lambda: db.session.get(Subscription, ids["sub"]).status)
    assert enabled is not access.allows(granted, "save")  # mass Disable needs save
    page.context.clear_cookies()
    assert page.request.get("/admin/subscribers/", max_redirects=0).status == 302  # to the login
