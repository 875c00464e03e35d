"""The log screens' replays over HTTP: exact answers per role, and bulk replay in the background.

That every role reaches exactly its routes is walked for all screens in test_admin_permissions."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app.usecases import access
from tests.log_rows import add_logs

UUID = "00000000-0000-4000-8000-000000000000"  # the first row add_logs writes
PASSWORD = "correct horse battery staple"
REPLAYS = [
    ("GET", "/admin/logs/replay?q=success:true", {}),
    ("POST", "/admin/logs/replay", {"q": "success:true", "count": "1"}),
    ("POST", f"/admin/logs/trace/{UUID}/replay", {}),
    ("POST", "/admin/dead_letters/replay", {"id": "1"}),
    ("POST", "/admin/dead_letters/1/replay", {}),
]


def token(client: FlaskClient, path: str = "/admin/login") -> str:
    match = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"',
        client.get(path).get_data(as_text=True),
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def signed_in(app, role: str) -> FlaskClient:
    with app.app_context():
        access.create_user(role, PASSWORD, role=role)
    client = app.test_client()
    form = {"username": role, "password": PASSWORD, "csrf_token": token(client)}
    assert client.post("/admin/login", data=form).status_code == 302
    return client


@pytest.fixture
def history(app):
    with app.app_context():
        add_logs("example.event", [{"success": True}])
    return app


@pytest.mark.parametrize(
    ("role", "allowed"), [("viewer", False), ("operator", True), ("admin", True)]
)
def test_only_replayers_may_replay(history, role: str, allowed: bool) -> None:
    client = signed_in(history, role)
    csrf = token(client, "/admin/logs/")
    for method, path, form in REPLAYS:
        response = client.open(path, method=method, data={**form, "csrf_token": csrf})
        expected = (200 if method == "GET" else 302) if allowed else 403
        assert response.status_code == expected, (method, path)


def test_a_large_bulk_replay_goes_to_the_background(history, redis_conn) -> None:
    from app.delivery.queues import RETRY_QUEUE, get_queue

    client = signed_in(history, "operator")
    form = {"q": "success:true", "count": "5000", "csrf_token": token(client, "/admin/logs/")}
    response = client.post("/admin/logs/replay", data=form, follow_redirects=True)
    assert "5000 chain(s) are being queued for replay in the background." in response.get_data(
        as_text=True
    )
    with history.app_context():
        jobs = get_queue(RETRY_QUEUE).jobs
    assert [(job.func_name, job.args) for job in jobs] == [
        ("jobs.replay.replay_matching", ("success:true",))
    ]
