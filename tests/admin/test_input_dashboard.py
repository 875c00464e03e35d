"""Dashboard regressions: page numbers and sizes, row ids, filters, search and forms.

Each of these answered 500 before, on SQLite, PostgreSQL or both ("²" passed isdigit() and
failed int(); numbers beyond a column overflowed it; the Status filter compared a boolean
column with text, which PostgreSQL refuses). Every case runs on both databases.
"""

from __future__ import annotations

import base64
import uuid as uuidlib

import pytest

from app import settings
from app.extensions import db
from app.models import DeadLetter, Subscription
from app.usecases import access, subscriptions
from tests.log_rows import add_logs

PASSWORD = "a long enough password"
BEYOND_64 = "99999999999999999999999"


@pytest.fixture
def admin(app):
    """A signed-in admin's client over two subscriptions (one disabled), 30 log rows and a
    dead letter."""
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        subscriptions.create("example.event", "https://example.com/on", "t")
        off = subscriptions.create("example.event", "https://example.com/off", "t")
        subscriptions.set_status(off.subscription_id, False)
        letter = DeadLetter(uuid=str(uuidlib.uuid4()), subscription_id=1, death_count=1, reason="x")
        db.session.add(letter)
        add_logs("example.event", [{"data": {"n": n}} for n in range(30)])  # two pages of 25
        db.session.commit()
        access.create_user("boss", PASSWORD, role="admin")
    client = app.test_client()
    assert client.post("/admin/login", data={"username": "boss", "password": PASSWORD}).status_code
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/logs/?size=²",
        "/admin/logs/?size=25&cursor={before_10}&n=²",
        "/admin/logs/?size=25&cursor={before_beyond}",
        "/admin/dead_letters/?size=²",
        "/admin/dead_letters/?cursor=²",
        f"/admin/dead_letters/?cursor={BEYOND_64}",
        "/admin/dead_letters/?cursor=9223372036854775808",
        "/admin/dead_letters/?cursor=1&n=²",
        f"/admin/subscribers/?page={BEYOND_64}",
        "/admin/subscribers/?page=-1",
    ],
)
def test_page_numbers_sizes_and_cursors_of_any_kind_show_a_page(admin, url):
    reply = admin.get(url.format(before_10=_cursor("10"), before_beyond=_cursor(BEYOND_64)))
    assert reply.status_code in (200, 302)  # a cursor that cannot be one: the newest page
    assert "login" not in reply.headers.get("Location", "")


def _cursor(log_id: str) -> str:
    """A search cursor as the Logs grid's Older link carries it."""
    return base64.urlsafe_b64encode(f"before:{log_id}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(("value", "shown"), [("1", "/on"), ("0", "/off")])
def test_the_status_filter_compares_booleans(admin, value, shown):
    page = admin.get(f"/admin/subscribers/?flt0_2={value}").get_data(as_text=True)
    hidden = "/off" if shown == "/on" else "/on"
    assert f"https://example.com{shown}" in page and f"https://example.com{hidden}" not in page


@pytest.mark.parametrize(
    ("method", "url", "form", "status"),
    [
        ("GET", f"/admin/subscribers/edit/?id={BEYOND_64}", None, 404),
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


@pytest.mark.parametrize(
    ("key", "largest", "beyond"),
    [
        ("max_deaths", "1000", "1001"),
        ("max_deaths", "1000", "1" + "0" * 30),
        ("max_backoff", "86400", "86401"),
        ("log_lifetime_days", "36500", "36501"),
    ],
)
def test_settings_are_saved_up_to_their_maximum_and_refused_beyond(admin, key, largest, beyond):
    form = {"max_deaths": "5", "max_backoff": "60", "log_lifetime_days": "30"}
    for value in ("-1", "three", "²", "", beyond):
        reply = admin.post("/admin/configuration/", data={**form, key: value})
        assert reply.status_code == 200 and "not saved" in reply.get_data(as_text=True), value
    with admin.application.app_context():
        assert settings.get(key) == int(form[key])
    assert admin.post("/admin/configuration/", data={**form, key: largest}).status_code == 302
    with admin.application.app_context():
        assert settings.get(key) == int(largest)


def test_subscriber_form_stores_magentos_store_ids_and_refuses_more(admin):
    form = {"event_name": "example.event", "recipient_url": "https://example.com/new"}
    for store in ("65536", BEYOND_64, "-1", "²"):
        reply = admin.post("/admin/subscribers/new/", data={**form, "store_id": store})
        assert reply.status_code == 200 and "Could not save" in reply.get_data(as_text=True)
    with admin.application.app_context():
        assert db.session.query(Subscription).filter_by(store_id=65535).count() == 0
    reply = admin.post("/admin/subscribers/new/", data={**form, "store_id": "65535"})
    assert reply.status_code == 200 and "saved successfully" in reply.get_data(as_text=True)
    with admin.application.app_context():
        assert db.session.query(Subscription).filter_by(store_id=65535).count() == 1


def test_sign_in_with_nul_is_a_400_not_a_query(app):
    form = {"username": "boss\x00", "password": PASSWORD}
    reply = app.test_client().post("/admin/login", data=form)
    assert reply.status_code == 400 and b"NUL" in reply.data
