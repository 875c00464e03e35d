"""Home: after real deliveries, the figures an operator reads first are right."""

from __future__ import annotations

from app.broker.connection import Broker
from app.delivery import publishing
from app.usecases import subscriptions
from tests.receiver import Reply


def test_home_shows_deliveries_failures_and_queues(login, in_app, jobs, receiver, shot) -> None:
    ok = receiver.route("/ok", Reply(200))
    bad = receiver.route("/bad", Reply(400, "nope"))
    in_app(lambda: subscriptions.create("example.event", ok, "tok-ok"))
    failing = in_app(lambda: subscriptions.create("example.event", bad, "tok-bad").subscription_id)
    for n in range(2):
        in_app(lambda n=n: publishing.publish("example.event", {"n": n}))
    jobs()
    page = login("viewer")
    assert page.get_by_test_id("stat-succeeded").inner_text() == "2"
    assert page.get_by_test_id("stat-failed").inner_text() == "2"
    assert page.get_by_test_id("stat-rate").inner_text() == "50.0 %"
    assert page.get_by_test_id("stat-dead").inner_text() == "2"  # a 400 is permanent
    assert page.get_by_test_id("queue-trigger").inner_text() == "0"
    row = page.get_by_test_id("failing").locator("tbody tr").first
    assert row.locator("td").nth(0).inner_text() == str(failing)
    assert bad in row.inner_text()
    assert page.locator("[data-testid=rate-chart] rect.bar-failed").count() == 1
    shot(page, "home")


def test_home_survives_redis_being_down(app, login, shot) -> None:
    page = login("viewer")
    app.extensions["broker"] = Broker(url="redis://127.0.0.1:1/0", directory="")
    page.reload()
    assert page.get_by_test_id("queue-trigger").inner_text() == "unavailable"
    assert page.get_by_test_id("failing-none").is_visible()
    shot(page, "redis-down")
