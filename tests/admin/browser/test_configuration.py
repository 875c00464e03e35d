"""Configuration: inline validation, and a changed Maximum Deaths obeyed by a running worker."""

from __future__ import annotations

from app import settings
from app.delivery import publishing
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog
from app.usecases import subscriptions
from tests.receiver import Reply
from tests.support import wait_until

SAVE = "[data-testid=settings-form] button[type=submit]"


def test_negative_maximum_deaths_is_refused_inline(login, in_app, shot) -> None:
    page = login("admin")
    page.goto("/admin/configuration/")
    assert page.input_value("#max_deaths") == "5"
    assert not page.locator("#log_lifetime_days").is_visible()  # only with cleanup on
    shot(page, "defaults")
    page.fill("#max_deaths", "-1")
    page.click(SAVE)
    assert (
        page.get_by_test_id("error-max_deaths").inner_text() == "Number must be between 0 and 1000."
    )
    page.get_by_text("The configuration was not saved").wait_for()
    shot(page, "invalid")
    assert in_app(lambda: settings.get("max_deaths")) == 5
    page.check("#log_cleanup_enabled")
    assert page.locator("#log_lifetime_days").is_visible()


def test_maximum_deaths_applies_to_the_next_chain(login, in_app, worker, receiver, shot) -> None:
    url = receiver.route("/down", Reply(503, "unavailable"))
    in_app(lambda: subscriptions.create("example.event", url, "tok"))
    worker.start()  # already running before the change: no restart picks it up
    page = login("admin")
    page.goto("/admin/configuration/")
    page.fill("#max_deaths", "1")
    page.fill("#max_backoff", "1")
    page.click(SAVE)
    page.get_by_text("You saved the configuration.").wait_for()
    shot(page, "saved")
    assert in_app(lambda: (settings.get("max_deaths"), settings.get("max_backoff"))) == (1, 1)
    in_app(lambda: publishing.publish("example.event", {"n": 1}))
    dead = lambda: db.session.query(Delivery).filter_by(state=ChainState.DEAD).count()  # noqa: E731
    wait_until(lambda: in_app(dead), timeout=20)
    assert in_app(lambda: db.session.query(DeliveryLog).count()) == 2  # 1 + Maximum Deaths
    assert len(receiver.received("/down")) == 2


def test_only_admins_see_configuration(login, page) -> None:
    login("operator")
    assert page.goto("/admin/configuration/").status == 403
    assert page.get_by_role("link", name="Configuration").count() == 0
