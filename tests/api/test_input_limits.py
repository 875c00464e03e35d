"""The limits every route shares, each family answering in its own shape: the REST API
and the health routes with JSON ``{"message", "parameters"}``, the dashboard with a page.
"""

from __future__ import annotations

import pytest

from app.usecases import subscriptions

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
    ],
)
def test_every_family_refuses_an_oversized_request(
    app, path, family, query, headers, status, needle
):
    reply = app.test_client().get(f"{path}?{query}", headers=headers)
    assert reply.status_code == status and needle in reply.get_data(as_text=True)
    shape(reply, family)


@pytest.mark.parametrize(("path", "family"), FAMILIES[1:])  # the REST API refused NUL already
@pytest.mark.parametrize("query", ["q=a%00b", "a%00=1"])
def test_nul_in_a_query_is_a_400_on_every_route(app, path, family, query):
    reply = app.test_client().get(f"{path}?{query}")
    assert reply.status_code == 400 and "NUL" in reply.get_data(as_text=True)
    shape(reply, family)


@pytest.mark.parametrize(
    ("method", "path", "family"),
    [("GET", "/healthz%00", "json"), ("POST", "/admin/login%00", "html")],
)
def test_nul_in_a_path_is_a_400(app, method, path, family):
    reply = app.test_client().open(path, method=method)
    assert reply.status_code == 400
    shape(reply, family)


def test_nul_in_a_form_field_is_a_400(app):
    reply = app.test_client().post("/admin/login", data={"username": "a\x00", "password": "p"})
    assert reply.status_code == 400 and b"form parameter" in reply.data


@pytest.mark.parametrize("digit", ["%D9%A1", "%EF%BC%91", "%F0%9D%9F%8F"])  # Arabic, wide, bold
def test_an_id_in_another_scripts_digits_is_not_that_id(api, digit):
    with api.app.app_context():
        subscriptions.create("example.event", "https://example.com/hook", "tok")
    token = api.token("view")
    assert api.call("GET", "/rest/V1/async_event/1", token).status_code == 200
    reply = api.call("GET", f"/rest/V1/async_event/{digit}", token)
    assert reply.status_code == 404 and set(reply.json) == {"message", "parameters"}
