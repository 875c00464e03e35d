"""Subscribers: create through the form, a token shown once that signs a real delivery, mass
Enable/Disable with the original's messages, token rotation, and what a viewer may not do."""

from __future__ import annotations

import re

from app.delivery import publishing
from app.extensions import db
from app.models import Subscription
from app.usecases import subscriptions
from tests.receiver import Reply


def verify_signature(token: str, headers: dict[str, str], body: bytes) -> bool:
    """Verify as a receiver would, with the Standard Webhooks reference library."""
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    try:
        Webhook(token.encode()).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def _create(page, recipient: str, event: str = "example.event") -> str:
    page.goto("/admin/subscribers/")
    page.get_by_role("link", name="Add New").click()
    page.select_option("#event_name", event)
    page.fill("#recipient_url", recipient)
    page.click("[data-testid=subscriber-form] button[type=submit]")
    page.get_by_text("The Asynchronous Event Subscriber data was saved successfully").wait_for()
    return page.get_by_test_id("token-once").inner_text().strip()


def test_create_shows_a_token_once_that_signs_deliveries(login, in_app, jobs, receiver, shot):
    url = receiver.route("/hook", Reply(200))
    page = login("operator")
    page.goto("/admin/subscribers/new/")
    page.fill("#recipient_url", "http://169.254.169.254/latest")  # refused as by REST: SSRF
    page.click("[data-testid=subscriber-form] button[type=submit]")
    assert "refused" in page.get_by_test_id("error-recipient_url").inner_text()
    page.get_by_text("Could not save Asynchronous Event Subscriber.").wait_for()
    shot(page, "ssrf-refused")
    token = _create(page, url)
    shot(page, "token-once")
    in_app(lambda: publishing.publish("example.event", {"n": 1}))
    jobs()
    [hit] = receiver.wait_for(1, "/hook")
    assert verify_signature(token, hit.headers, hit.body)
    page.get_by_role("link", name="Done").click()
    assert page.get_by_test_id("token-once").count() == 0
    row = page.locator("table.model-list tbody tr").first
    assert url in row.inner_text() and "Enabled" in row.inner_text()
    shot(page, "grid")


def test_mass_disable_and_enable_report_the_original_messages(login, in_app, shot) -> None:
    for n in range(3):
        in_app(lambda n=n: subscriptions.create("example.event", f"http://h{n}.test/", "t"))
    page = login("operator")
    page.goto("/admin/subscribers/")
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    dialogs: list[str] = []
    _mass(page, "Disable", [0, 1])
    page.get_by_text("A total of 2 event(s) have been disabled.").wait_for()
    assert dialogs == ["Are you sure you want to disable the selected events?"]
    shot(page, "disabled")
    _mass(page, "Disable", [0])
    page.get_by_text("A total of 1 event(s) are already disabled.").wait_for()
    page.locator(".action-rowtoggle").check()
    _mass(page, "Enable", [])
    page.get_by_text("A total of 2 event(s) have been enabled.").wait_for()
    page.get_by_text("A total of 1 event(s) are already enabled.").wait_for()
    assert dialogs[-1] == "Are you sure you want to enable the selected events?"
    shot(page, "enabled")
    assert in_app(lambda: db.session.query(Subscription).filter_by(status=True).count()) == 3


def _mass(page, name: str, rows: list[int]) -> None:
    for i in rows:
        page.locator("input.action-checkbox").nth(i).check()
    page.get_by_role("button", name="With selected").or_(
        page.get_by_role("link", name="With selected")
    ).click()
    page.locator("[data-model-action]", has_text=name).click()
    page.wait_for_load_state()


def test_rotate_token_shows_the_new_one_and_both_sign(login, in_app, jobs, receiver, shot):
    url = receiver.route("/hook", Reply(200))
    page = login("operator")
    old = _create(page, url)
    sub_id = int(re.search(r"#(\d+)", page.locator("h1").inner_text()).group(1))
    page.goto(f"/admin/subscribers/edit/?id={sub_id}")
    shot(page, "edit")
    page.on("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Rotate token").click()
    page.get_by_text("A new verification token was generated.").wait_for()
    new = page.get_by_test_id("token-once").inner_text().strip()
    shot(page, "rotated")
    assert new != old
    in_app(lambda: publishing.publish("example.event", {"n": 2}))
    jobs()
    [hit] = receiver.wait_for(1, "/hook")
    assert verify_signature(new, hit.headers, hit.body)
    assert verify_signature(old, hit.headers, hit.body)  # the grace period


def test_keyword_search_and_a_viewer_cannot_change_anything(login, in_app, page, shot) -> None:
    in_app(lambda: subscriptions.create("customer.created", "http://alpha.test/", "t"))
    in_app(lambda: subscriptions.create("example.event", "http://beta.test/", "t"))
    login("viewer")
    page.goto("/admin/subscribers/?search=alpha")
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 1 and "alpha.test" in rows.first.inner_text()
    assert page.get_by_role("link", name="Add New").count() == 0
    assert page.locator("input.action-checkbox").count() == 0
    shot(page, "viewer")
    in_app(lambda: subscriptions.set_status(2, False))
    page.goto("/admin/subscribers/")
    page.get_by_role("link", name="Add Filter").click()
    page.locator("a.filter", has_text="Status").click()
    page.locator(".filters select.filter-val").last.select_option(label="Disabled", force=True)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"flt"))
    rows = page.locator("table.model-list tbody tr")
    assert rows.count() == 1 and "beta.test" in rows.first.inner_text()
    shot(page, "filtered")
    for path in ("/admin/subscribers/new/", "/admin/subscribers/edit/?id=1"):
        assert page.goto(path).status == 403
    response = page.request.post("/admin/subscribers/rotate/1")
    assert response.status in (400, 403)  # no CSRF token, and no permission either


def test_a_broker_sink_from_the_form_keeps_its_password_out_of_sight(login, in_app, shot):
    page = login("operator")
    page.goto("/admin/subscribers/new/")
    labels = page.locator("#sink option").all_inner_texts()
    for label in ("HTTP", "Google Cloud Pub/Sub", "Azure Event Grid", "NATS JetStream", "MQTT"):
        assert label in labels
    page.select_option("#sink", label="NATS JetStream")
    page.fill("#recipient_url", "nats://shop:s3cret@127.0.0.1:4222/orders.*")
    page.click("[data-testid=subscriber-form] button[type=submit]")
    error = page.get_by_test_id("error-recipient_url").inner_text()
    assert "nats://[user:password@ | :token@]host[:port]/SUBJECT" in error
    assert "s3cret" not in error and "nats://shop:***@127.0.0.1:4222/orders.*" in error
    shot(page, "nats-refused")
    page.fill("#recipient_url", "nats://shop:s3cret@127.0.0.1:4222/orders.created")
    page.click("[data-testid=subscriber-form] button[type=submit]")
    page.get_by_text("The Asynchronous Event Subscriber data was saved successfully").wait_for()
    sub = in_app(lambda: db.session.query(Subscription).one())
    assert (sub.sink, sub.recipient_url) == ("nats", "nats://shop@127.0.0.1:4222/orders.created")
    assert in_app(lambda: db.session.get(Subscription, sub.subscription_id).delivery_recipient())
    page.goto("/admin/subscribers/")
    assert "s3cret" not in page.content()
    page.goto(f"/admin/subscribers/edit/?id={sub.subscription_id}")
    assert "s3cret" not in page.content()
    shot(page, "nats-edit")
