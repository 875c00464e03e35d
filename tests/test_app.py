"""The app as a whole: start-up validation, migrations, health."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.events import DefinitionError
from app.extensions import db


def test_malformed_definition_stops_start_up_with_file_and_line(config, tmp_path):
    bad = tmp_path / "async_events.xml"
    bad.write_text(
        '<?xml version="1.0"?>\n<config>\n  <async_event name="a.b">\n'
        '    <service method="resolve"/>\n  </async_event>\n</config>\n'
    )
    with pytest.raises(DefinitionError) as info:
        create_app({**config, "ASYNC_EVENTS_DEFINITIONS": [str(bad)]})
    assert f"{bad}:4:" in str(info.value) and "class" in str(info.value)


def test_extra_definitions_merge_after_the_apps_own(config, tmp_path):
    extra = tmp_path / "extra.xml"
    extra.write_text(
        '<config><async_event name="billing.paid">'
        '<service class="app.events.Passthrough" method="resolve"/></async_event></config>'
    )
    app = create_app({**config, "ASYNC_EVENTS_DEFINITIONS": [str(tmp_path / "*.xml")]})
    names = app.extensions["async_events"].names()
    assert "billing.paid" in names and "example.event" in names


def test_migrations_build_the_schema_the_models_describe(config, backend):
    """`flask db upgrade` on an empty database, then alembic finds nothing left to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from flask_migrate import downgrade, upgrade

    app = create_app(config)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        downgrade(revision="base")
        tables = set(inspect(create_engine(config["SQLALCHEMY_DATABASE_URI"])).get_table_names())
        assert tables <= {"alembic_version"}
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def test_health_reports_database_and_redis(app):
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    search = {"embedded": True}  # no external cluster configured
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok", "search": search}
    assert "example.event" in client.get("/").json["events"]


def test_health_says_when_redis_is_down(config):
    app = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with app.app_context():
        db.create_all()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["redis"].startswith("unreachable") and response.json["database"] == "ok"


def test_publish_waits_in_the_database_while_redis_is_down(config, receiver):
    from app.delivery import outbox, publishing, sweeper
    from app.models import Publication
    from app.usecases import subscriptions
    from tests.support import run_jobs

    down = create_app({**config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with down.app_context():
        db.drop_all()
        db.create_all()
        subscriptions.create("example.event", receiver.route("/later"), "t")
        pub_id = publishing.publish("example.event", {"id": 9})
        assert outbox.flush(down)  # the relay gave up on Redis without raising
        assert db.session.get(Publication, pub_id).state == "pending"
    outbox.close(down)
    up = create_app({**config, "DELIVERY_SWEEP_GRACE": 0})
    with up.app_context():
        assert sweeper.sweep().publications == 1
        run_jobs(up)
        assert receiver.wait_for(1, "/later")[0].json()["data"] == {"id": 9}
        db.drop_all()
