"""The trace page in a real browser: status, attempts, an inert payload, Replay and Back."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import Delivery
from app.usecases import subscriptions
from tests.admin.browser.conftest import reload_until
from tests.receiver import Reply

HOSTILE = {
    "note": "<script>window.__pwned=1</script>",
    "name": '"><img src=x onerror="window.__pwned=2">',
    "total": 12.5,
    "paid": True,
    "items": [{"sku": "SKU-1", "qty": 2}],
}


def deliver(in_app, jobs, receiver, *replies: Reply, data: dict | None = None) -> str:
    """Publish example.event to the receiver, run the jobs, and return the chain's UUID."""
    url = receiver.route("/hook", *replies)
    in_app(lambda: subscriptions.create("example.event", url, "tok"))
    in_app(lambda: publishing.publish("example.event", data or {"order": 42}))
    jobs()
    uuid = in_app(lambda: db.session.scalars(select(Delivery.uuid)).first())
    assert uuid, "the publication was not fanned out"
    return uuid


def attempt_ids(page) -> list[str]:
    return page.locator("table.trace-attempts tbody tr[data-log-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.logId)"
    )


def test_trace_replay_adds_an_attempt(login, in_app, worker, receiver, shot) -> None:
    worker.start()  # a real worker with its scheduler: the replay is due a second later
    uuid = deliver(in_app, lambda: receiver.wait_for(1, "/hook", timeout=20), receiver)
    page = login("operator")
    page.goto("/admin/logs/?q=success:true")
    reload_until(page, lambda pg: pg.get_by_role("link", name="Trace").count() == 1)
    page.get_by_role("link", name="Trace").click()
    page.wait_for_url(re.compile(rf"/admin/logs/trace/{uuid}"))
    assert page.get_by_test_id("trace-status").inner_text() == "Delivered"
    sub = page.get_by_test_id("subscription").inner_text()
    assert "example.event" in sub and "Enabled" in sub and receiver.url in sub
    assert len(attempt_ids(page)) == 1
    shot(page, "delivered")
    page.get_by_role("button", name="Replay").click()
    page.get_by_text("Replay queued").wait_for()
    shot(page, "replay-queued")
    reload_until(page, lambda pg: len(attempt_ids(pg)) == 2)
    assert len(receiver.received("/hook")) == 2
    shot(page, "replayed")
    page.get_by_role("link", name="Back").click()
    page.wait_for_url(re.compile(r"/admin/logs/\?q=success"))  # the search is kept


def test_a_hostile_payload_stays_text(login, in_app, jobs, receiver, shot) -> None:
    uuid = deliver(
        in_app,
        jobs,
        receiver,
        Reply(500, body="<b>boom</b><script>window.__pwned=3</script>"),
        data=HOSTILE,
    )
    page = login("viewer")
    page.goto(f"/admin/logs/trace/{uuid}")
    payload = page.get_by_test_id("payload")
    assert "<script>window.__pwned=1</script>" in payload.inner_text()
    assert 'onerror=\\"window.__pwned=2\\"' in payload.inner_text()
    assert page.locator("img").count() == 0 and page.locator("pre b").count() == 0
    assert "<b>boom</b>" in page.locator("pre.response").first.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("pre.json .json-key").count() >= 5  # highlighted, not one blob
    shot(page, "hostile-payload")


def test_a_viewer_sees_no_replay_and_cannot_post_one(login, in_app, jobs, receiver, shot) -> None:
    uuid = deliver(in_app, jobs, receiver, Reply(200))
    page = login("viewer")
    page.goto(f"/admin/logs/trace/{uuid}")
    assert page.get_by_role("button", name="Replay").count() == 0
    token = page.evaluate("document.querySelector('input[name=csrf_token]').value")
    response = page.request.post(
        f"/admin/logs/trace/{uuid}/replay", form={"csrf_token": token}, max_redirects=0
    )
    assert response.status == 403
    assert len(receiver.received("/hook")) == 1


def test_an_unknown_uuid_goes_back_to_the_grid(login, shot) -> None:
    page = login("viewer")
    page.goto("/admin/logs/trace/00000000-0000-4000-8000-000000000000")
    page.wait_for_url(re.compile(r"/admin/logs/$"))
    page.get_by_text("This asynchronous event trace no longer exists.").wait_for()
    shot(page, "gone")
