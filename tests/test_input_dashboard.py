"""Dashboard regressions: page numbers and sizes, row ids, filters, search and forms.

Each of these answered 500 before, on SQLite, PostgreSQL or both ("²" passed isdigit() and
failed int(); numbers beyond a column overflowed it; the Status filter compared a boolean
column with text, which PostgreSQL refuses). Every case runs on both databases.
"""

from __future__ import annotations

import uuid as uuidlib

import pytest

from app.extensions import db
from app.models import DeadLetter, Subscription
from app.services import access, settings, subscriptions

PASSWORD = "a long enough password"
BEYOND_64 = "99999999999999999999999"


@pytest.fixture
def admin(app):
    """A signed-in admin's client, over two subscriptions (one disabled) and a dead letter."""
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        subscriptions.create("example.event", "https://example.com/on", "t")
        off = subscriptions.create("example.event", "https://example.com/off", "t")
        subscriptions.set_status(off.subscription_id, False)
        letter = DeadLetter(uuid=str(uuidlib.uuid4()), subscription_id=1, death_count=1, reason="x")
        db.session.add(letter)
        db.session.commit()
        access.create_user("boss", PASSWORD, role="admin")
    client = app.test_client()
    assert client.post("/admin/login", data={"username": "boss", "password": PASSWORD}).status_code
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/logs/?size=²",
        "/admin/logs/?cursor=x&n=²",
        f"/admin/logs/?cursor=x&n={BEYOND_64}",
        "/admin/dead_letters/?size=²",
        "/admin/dead_letters/?cursor=²",
        f"/admin/dead_letters/?cursor={BEYOND_64}",
        "/admin/dead_letters/?cursor=9223372036854775808",
        "/admin/dead_letters/?cursor=1&n=²",
        f"/admin/subscribers/?page={BEYOND_64}",
        "/admin/subscribers/?page=-1",
        "/admin/subscribers/?page_size=²&sort=²",
    ],
)
def test_page_numbers_sizes_and_cursors_of_any_kind_show_a_page(admin, url):
    reply = admin.get(url)  # a cursor the search does not know redirects to the newest page
    assert reply.status_code in (200, 302) and "login" not in reply.headers.get("Location", "")


@pytest.mark.parametrize(("value", "shown"), [("1", "/on"), ("0", "/off")])
def test_the_status_filter_compares_booleans(admin, value, shown):
    page = admin.get(f"/admin/subscribers/?flt0_2={value}").get_data(as_text=True)
    hidden = "/off" if shown == "/on" else "/on"
    assert f"https://example.com{shown}" in page and f"https://example.com{hidden}" not in page


@pytest.mark.parametrize(
    ("method", "url", "form", "status"),
    [
        ("GET", f"/admin/subscribers/edit/?id={BEYOND_64}", None, 404),
        ("GET", "/admin/subscribers/edit/?id=²", None, 404),
        ("GET", "/admin/subscribers/edit/?id=2147483648", None, 404),
        ("POST", "/admin/subscribers/action/", {"action": "disable", "rowid": BEYOND_64}, 400),
        ("POST", "/admin/subscribers/action/", {"action": "disable", "rowid": "²"}, 400),
        ("POST", "/admin/dead_letters/replay", {"id": BEYOND_64}, 400),
        ("POST", f"/admin/dead_letters/{BEYOND_64}/replay", None, 404),
        ("POST", "/admin/tokens/revoke/2147483648", None, 404),
        ("POST", "/admin/users/2147483648/active", None, 404),
        ("POST", "/admin/subscribers/rotate/2147483648", None, 404),
        ("GET", "/admin/subscribers/?search=" + "x" * 1001, None, 400),
        ("GET", "/admin/subscribers/?flt0_0=" + "x" * 1001, None, 400),
        ("GET", "/admin/subscribers/?search=a%00b", None, 400),
        ("GET", "/admin/logs/?q=a%00b", None, 400),
        ("GET", "/admin/logs/trace/a%00b", None, 400),
        ("POST", "/admin/tokens/", {"name": "a\x00b", "permissions": "view"}, 400),
        ("POST", "/admin/users/", {"username": "\x00", "password": PASSWORD}, 400),
    ],
)
def test_ids_and_text_no_row_or_column_can_hold_are_4xx(admin, method, url, form, status):
    reply = admin.open(url, method=method, data=form)
    assert reply.status_code == status and reply.mimetype == "text/html"
    with admin.application.app_context():
        assert db.session.get(Subscription, 1).status is True


@pytest.mark.parametrize("value", ["1001", "10" * 20, "-1", "three", "²", ""])
def test_maximum_deaths_out_of_range_is_refused_beside_the_field(admin, value):
    form = {"max_deaths": value, "max_backoff": "60", "log_lifetime_days": "30"}
    reply = admin.post("/admin/configuration/", data=form)
    assert reply.status_code == 200 and "not saved" in reply.get_data(as_text=True)
    with admin.application.app_context():
        assert settings.get("max_deaths") == 5


@pytest.mark.parametrize("store", ["32768", BEYOND_64, "-1", "²"])
def test_subscriber_form_refuses_a_store_the_column_cannot_hold(admin, store):
    form = {"event_name": "example.event", "recipient_url": "https://example.com/new"}
    reply = admin.post("/admin/subscribers/new/", data={**form, "sink": "http", "store_id": store})
    assert reply.status_code == 200 and "Could not save" in reply.get_data(as_text=True)
    with admin.application.app_context():
        assert db.session.query(Subscription).count() == 2


def test_sign_in_with_nul_is_a_400_not_a_query(app):
    form = {"username": "boss\x00", "password": PASSWORD}
    reply = app.test_client().post("/admin/login", data=form)
    assert reply.status_code == 400 and b"NUL" in reply.data
