"""Dead letters in a real browser: a chain that dies is listed, traced, and replayed."""

from __future__ import annotations

from app import settings
from app.delivery import publishing
from app.usecases import subscriptions
from tests.admin.browser.conftest import reload_until
from tests.receiver import Reply


def letter_rows(page):
    return page.locator("tbody tr[data-letter-id]")


def kill_two_chains(in_app, receiver, worker) -> None:
    """Maximum Deaths 0 and a receiver answering 503 twice: both chains die on their first try."""
    url = receiver.route("/hook", Reply(503, body="=busy"), Reply(503), Reply(200))
    in_app(lambda: settings.set("max_deaths", 0))
    in_app(lambda: subscriptions.create("example.event", url, "tok"))
    for order in range(2):
        in_app(lambda order=order: publishing.publish("example.event", {"order": order}))
    worker.start()
    receiver.wait_for(2, "/hook", timeout=20)


def test_dead_letters_are_listed_and_replayed(login, in_app, receiver, worker, shot) -> None:
    kill_two_chains(in_app, receiver, worker)
    page = login("operator")
    page.get_by_role("link", name="Dead Letters").click()
    reload_until(page, lambda pg: letter_rows(pg).count() == 2)
    first = letter_rows(page).first
    assert "example.event" in first.inner_text() and receiver.url in first.inner_text()
    assert "Retries exhausted" in page.locator("tbody").inner_text()
    shot(page, "listed")
    first.get_by_role("button", name="Replay").click()
    page.get_by_text("A total of 1 dead letter chain(s) queued for replay.").wait_for()
    reload_until(page, lambda pg: "Delivered since" in letter_rows(pg).first.inner_text())
    shot(page, "one-replayed")
    page.get_by_label("Select all").check()
    page.get_by_test_id("replay-selected").click()
    page.get_by_text("A total of 2 dead letter chain(s) queued for replay.").wait_for()
    receiver.wait_for(5, "/hook", timeout=20)
    reload_until(page, lambda pg: pg.get_by_text("Delivered since").count() == 2)
    shot(page, "all-replayed")
    letter_rows(page).first.get_by_role("link", name="Trace").click()
    page.get_by_test_id("trace-status").wait_for()
    shot(page, "trace")


def test_a_viewer_sees_dead_letters_but_cannot_replay(login, in_app, receiver, worker) -> None:
    kill_two_chains(in_app, receiver, worker)
    page = login("viewer")
    page.goto("/admin/dead_letters/")
    reload_until(page, lambda pg: letter_rows(pg).count() == 2)
    assert page.get_by_role("button", name="Replay").count() == 0
    assert page.get_by_role("checkbox").count() == 0
    token = page.evaluate("document.querySelector('input[name=csrf_token]').value")
    response = page.request.post(
        "/admin/dead_letters/replay", form={"csrf_token": token, "id": "1"}
    )
    assert response.status == 403
    assert len(receiver.received("/hook")) == 2
