"""The limits every route shares, and the last resort for an exception no view handled.

Each family answers in its own shape: the REST API and the health routes with JSON
``{"message", "parameters"}``, the dashboard with an HTML page.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DataError

from app.api.last_resort import UNCHECKED

FAMILIES = [("/rest/V1/async_events", "json"), ("/healthz", "json"), ("/admin/login", "html")]


def shape(reply, family: str) -> None:
    if family == "json":
        assert set(reply.json) == {"message", "parameters"}
    else:
        assert reply.mimetype == "text/html"


@pytest.mark.parametrize(("path", "family"), FAMILIES)
@pytest.mark.parametrize(
    ("query", "headers", "status", "needle"),
    [
        ("q=" + "x" * 70_000, {}, 414, "query string"),
        ("", {"X-Padding": "x" * 70_000}, 431, "headers"),
        ("q=a%00b", {}, 400, "NUL"),
        ("a%00=1", {}, 400, "NUL"),
    ],
)
def test_every_family_refuses_oversized_or_nul_requests(
    app, path, family, query, headers, status, needle
):
    reply = app.test_client().get(f"{path}?{query}", headers=headers)
    assert reply.status_code == status and needle in reply.get_data(as_text=True)
    shape(reply, family)


@pytest.mark.parametrize(
    ("method", "path", "family"),
    [("GET", "/rest/V1/async_event/1%00", "json"), ("POST", "/admin/login%00", "html")],
)
def test_nul_in_a_path_is_a_400(app, method, path, family):
    reply = app.test_client().open(path, method=method)
    assert reply.status_code == 400
    shape(reply, family)


def test_nul_in_a_form_field_is_a_400(app):
    reply = app.test_client().post("/admin/login", data={"username": "a\x00", "password": "p"})
    assert reply.status_code == 400 and b"form parameter" in reply.data


@pytest.mark.parametrize(
    "path", ["/rest/V1/async_event/99999999999999999999", "/rest/V1/async_event/%D9%A1"]
)
def test_int_path_segments_beyond_bigint_or_not_ascii_are_a_404(api, path):
    reply = api.call("GET", path, api.token("view"))
    assert reply.status_code == 404 and set(reply.json) == {"message", "parameters"}


@pytest.fixture
def raising(app):
    """Routes that raise what a missed check would raise (added before the first request)."""
    faults = {
        "overflow": OverflowError("Python int too large to convert to SQLite INTEGER"),
        "data": DataError("SELECT", {}, Exception("integer out of range")),
        "recursion": RecursionError("maximum recursion depth exceeded"),
        "bug": KeyError("a genuine server fault"),
    }

    def fail(kind: str):
        raise faults[kind]

    app.add_url_rule("/rest/raise/<kind>", "rest_raise", fail)
    app.add_url_rule("/admin/raise/<kind>", "admin_raise", fail)
    return app.test_client()


@pytest.mark.parametrize(("prefix", "family"), [("/rest", "json"), ("/admin", "html")])
@pytest.mark.parametrize(("kind", "status"), [("overflow", 400), ("data", 400), ("recursion", 400)])
def test_input_that_slipped_past_a_check_is_a_400_and_logged(
    raising, caplog, prefix, family, kind, status
):
    reply = raising.get(f"{prefix}/raise/{kind}")
    assert reply.status_code == status
    shape(reply, family)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and UNCHECKED in logged[0].getMessage() and logged[0].exc_info
    reference = logged[0].getMessage().split("reference ")[1][:12]
    assert reference in reply.get_data(as_text=True)


@pytest.mark.parametrize(("prefix", "family"), [("/rest", "json"), ("/admin", "html")])
def test_a_genuine_server_fault_stays_a_logged_500(raising, caplog, prefix, family):
    reply = raising.get(f"{prefix}/raise/bug")
    assert reply.status_code == 500
    shape(reply, family)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and UNCHECKED not in logged[0].getMessage()
    assert logged[0].exc_info[0] is KeyError
    assert logged[0].getMessage().split("reference ")[1][:12] in reply.get_data(as_text=True)
