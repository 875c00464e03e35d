"""Store ids 0-65535, Magento's range, for publications and subscriptions alike.

The subscription column was a SMALLINT, which stops at 32767 on PostgreSQL, while
publications took store ids to 65535: a publication for store 40000 was accepted and
reached nobody. Migration 0006 widens the column; both run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.extensions import db
from app.usecases import subscriptions

BEFORE = "0005_user_must_change_password"


def subscribe_over_rest(api, url: str, store: int):
    body = {"asyncEvent": {"event_name": "example.event", "recipient_url": url}}
    body["asyncEvent"] |= {"verification_token": "t", "metadata": "http", "store_id": store}
    return api.call("POST", "/rest/V1/async_event", api.token("manage"), json=body)


def publish_over_rest(api, store: int):
    body = {"event_name": "example.event", "arguments": {"n": 1}, "store_id": store}
    return api.call("POST", "/rest/V1/async_events/publish", api.token("publish"), json=body)


def test_the_largest_store_subscribes_and_receives_its_publications(api, receiver, jobs):
    subscribed = subscribe_over_rest(api, receiver.route("/last"), 65535)
    assert subscribed.status_code == 200 and subscribed.json["store_id"] == 65535
    assert publish_over_rest(api, 65535).status_code == 202
    jobs()
    (got,) = receiver.wait_for(1, "/last")
    assert got.json()["source"] == "65535" and got.json()["data"] == {"n": 1}


@pytest.mark.parametrize("store", [65536, -1])
def test_stores_beyond_the_range_are_refused_by_both(api, store):
    subscribed = subscribe_over_rest(api, "https://example.com/hook", store)
    published = publish_over_rest(api, store)
    for response in (subscribed, published):
        assert response.status_code == 400
        assert "store_id" in response.json["message"] + str(response.json["parameters"])


def _reset_to(revision: str) -> None:
    """An empty database migrated to ``revision``."""
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(revision=revision)


def _store_column_type() -> str:
    columns = inspect(db.engine).get_columns("async_event_subscriber")
    return next(str(c["type"]) for c in columns if c["name"] == "store_id")


def test_migration_widens_the_column_keeping_rows_and_their_logs(app, capsys):
    """Upgrade and downgrade with a subscription whose log rows reference it.

    On SQLite the table is recreated, which foreign keys refuse while rows reference
    it unless the migration environment turns them off for the run.
    """
    with app.app_context():
        _reset_to(BEFORE)
        with db.engine.begin() as conn:
            conn.execute(text(_OLD_SUBSCRIPTION))
            conn.execute(text(_OLD_LOG_ROW))
        upgrade()
        assert _store_column_type() == "INTEGER"
        largest = subscriptions.create(
            "example.event", "https://example.com/b", "t", store_id=65535
        )
        with pytest.raises(SystemExit):  # flask db downgrade's exit, with the reason logged
            downgrade(revision=BEFORE)
        assert "1 subscription(s) have a store_id above 32767" in capsys.readouterr().err
        assert _store_column_type() == "INTEGER"
        db.session.delete(largest)
        db.session.commit()
        downgrade(revision=BEFORE)
        assert _store_column_type() == "SMALLINT"
        with db.engine.connect() as conn:
            assert conn.execute(text(_SURVIVORS)).all() == [(1, 7, 1)]
        downgrade(revision="base")
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))


_OLD_SUBSCRIPTION = """
INSERT INTO async_event_subscriber
  (event_name, recipient_url, verification_token, status, modified, metadata, store_id)
VALUES ('example.event', 'https://example.com/a', 'x', true, CURRENT_TIMESTAMP, 'http', 7)
"""
_OLD_LOG_ROW = """
INSERT INTO async_event_subscriber_log
  (subscription_id, success, response_data, created, attempt, duration_ms, retryable)
VALUES (1, true, '', CURRENT_TIMESTAMP, 1, 0, false)
"""
_SURVIVORS = """
SELECT s.subscription_id, s.store_id, count(l.log_id) FROM async_event_subscriber s
JOIN async_event_subscriber_log l ON l.subscription_id = s.subscription_id
GROUP BY s.subscription_id, s.store_id
"""
