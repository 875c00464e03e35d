"""The log screens over HTTP: each route with each role, signed out, without CSRF; bulk replay."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app.services import access
from tests.log_rows import add_logs

UUID = "00000000-0000-4000-8000-000000000000"  # the first row add_logs writes
PASSWORD = "correct horse battery staple"
GETS = [
    "/admin/logs/",
    "/admin/logs/export.csv?q=success:true",
    f"/admin/logs/trace/{UUID}",
    "/admin/dead_letters/",
]
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


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_may_look(history, role: str) -> None:
    client = signed_in(history, role)
    for path in GETS:
        assert client.get(path).status_code == 200, path


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


def test_signed_out_goes_to_the_login(history) -> None:
    client = history.test_client()
    for path in GETS:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.location, path


def test_a_replay_without_its_csrf_token_is_refused(history) -> None:
    client = signed_in(history, "operator")
    for method, path, form in REPLAYS:
        if method == "POST":
            assert client.post(path, data=form).status_code == 400, path


def test_a_large_bulk_replay_goes_to_the_background(history, redis_conn) -> None:
    from app.queues import RETRY_QUEUE, get_queue

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
