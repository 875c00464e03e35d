"""The dispatcher inside a real worker process: a stalled endpoint among many events."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from app.delivery import publishing
from app.extensions import db
from app.models import DeliveryLog
from app.usecases import subscriptions
from tests.receiver import Reply
from tests.support import wait_until

pytestmark = pytest.mark.slow


def fast_received(receiver) -> int:
    return sum(len(receiver.received(f"/fast{i}")) for i in range(5))


def test_a_stalled_endpoint_does_not_hold_up_later_events_to_the_others(ctx, receiver, worker):
    """Jobs hand their sends over and return: 40 events do not queue behind a 10 s endpoint."""
    subscriptions.create("example.event", receiver.route("/stall", Reply(200, delay=10)), "t")
    for i in range(5):
        subscriptions.create("example.event", receiver.route(f"/fast{i}"), "t")
    worker.start()
    time.sleep(1.5)  # let the worker boot
    started = time.time()
    for n in range(40):
        publishing.publish("example.event", {"n": n})
    wait_until(lambda: fast_received(receiver) == 200, timeout=8)
    assert time.time() - started < 5
    logged = select(func.count()).select_from(DeliveryLog).where(DeliveryLog.success)

    def recorded() -> bool:
        try:
            return db.session.scalar(logged) >= 200
        finally:
            db.session.commit()

    wait_until(recorded, timeout=5)
