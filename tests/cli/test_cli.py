"""The operations CLI, through Flask's test runner against the real database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from app import settings
from app.extensions import db
from app.models import ApiToken, DeliveryLog, Publication, Subscription, User
from app.usecases import access
from tests.support import seed_aged_logs, shared_dir


def invoke(runner, *args: str):
    result = runner.invoke(args=list(args))
    return result.exit_code, result.output


def test_subscribe_publish_and_trace(runner, app, receiver, jobs):
    url = receiver.route("/cli")
    code, out = invoke(
        runner, "subscribe", "example.event", url, "--token", "tok", "--store-id", "2"
    )
    assert code == 0 and "subscription 1" in out
    code, out = invoke(runner, "publish", "example.event", '{"id": 1}', "--store-id", "2")
    assert code == 0 and "publication 1" in out
    jobs()
    (got,) = receiver.wait_for(1, "/cli")
    code, out = invoke(runner, "trace", got.headers["webhook-id"])
    assert code == 0 and "Delivered" in out and '"id": 1' in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["subscribe", "nope.event", "http://x.test/", "--token", "t"], "known events"),
        (
            ["subscribe", "example.event", "http://x.test/", "--token", "t", "--sink", "fax"],
            "known sinks",
        ),
        (["subscribe", "example.event", "ftp://x.test/", "--token", "t"], "http(s) URL"),
        (["publish", "example.event", "{not json"], "not JSON"),
        (["publish", "nope.event", "{}"], "unknown event"),
        (["publish", "example.event", "[1]"], "JSON object"),
        (["settings", "set", "max_deaths", "--", "-1"], ">= 0"),
        (["settings", "set", "max_deaths", "three"], "whole number"),
        (["settings", "set", "indexing_enabled", "maybe"], "true or false"),
        (["settings", "set", "colour", "blue"], "unknown setting"),
        (["trace", "00000000-0000-4000-8000-000000000000"], "no longer exists"),
        (["import-logs", "-"], "line 1"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(runner, app, args, message):
    result = runner.invoke(args=args, input="{oops\n")
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0
        assert db.session.scalar(select(func.count()).select_from(Publication)) == 0
        assert settings.get("max_deaths") == 5


def test_settings_get_and_set(runner, app):
    assert invoke(runner, "settings", "set", "max_deaths", "3") == (0, "max_deaths = 3\n")
    code, out = invoke(runner, "settings", "get")
    assert code == 0 and "max_deaths = 3" in out and "indexing_enabled = true" in out
    assert invoke(runner, "settings", "get", "max_backoff") == (0, "max_backoff = 60\n")


def test_create_admin_and_token(runner, app):
    code, _ = invoke(runner, "create-admin", "ops", "--password", "pw")
    assert code == 0
    code, out = invoke(
        runner, "create-token", "ci", "--permission", "publish", "--permission", "view"
    )
    assert code == 0
    token = out.splitlines()[0]
    with app.app_context():
        assert access.check_user("ops", "pw") is not None
        assert access.check_user("ops", "wrong") is None
        row = access.find_token(token)
        assert row is not None and row.permissions == "publish view"
        assert token not in db.session.scalar(select(ApiToken.token_hash))  # stored hashed


def test_create_admin_default_keeps_an_existing_password(runner, app):
    assert invoke(runner, "create-admin", "--default", "--if-missing")[0] == 0
    with app.app_context():
        access.create_user("admin", "changed")
    code, out = invoke(runner, "create-admin", "--default", "--if-missing")
    assert code == 0 and "already exists" in out
    with app.app_context():
        assert access.check_user("admin", "changed") is not None
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_replay_command(runner, app, receiver, jobs):
    invoke(runner, "subscribe", "example.event", receiver.route("/r"), "--token", "t")
    invoke(runner, "publish", "example.event", "{}")
    jobs()
    uuid = receiver.wait_for(1, "/r")[0].headers["webhook-id"]
    code, out = invoke(runner, "replay", uuid, "0000")
    assert code == 1 and f"replaying {uuid}" in out and "no delivery log under 0000" in out


def test_import_logs_from_the_corpus_generator(runner, app, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        subprocess.check_output(
            [sys.executable, str(shared_dir() / "search" / "gen_corpus.py"), "300", "7"], text=True
        )
    )
    code, out = invoke(runner, "import-logs", str(corpus), "--batch-size", "64")
    assert code == 0 and "imported 300 log rows" in out
    first = json.loads(corpus.read_text().splitlines()[0])
    with app.app_context():
        row = db.session.get(DeliveryLog, first["log_id"])
        assert row.uuid == first["uuid"] and row.serialized_data == first["serialized_data"]
        subs = db.session.scalars(select(Subscription)).all()
        assert subs and all(not s.status for s in subs)
        # new rows continue after the imported ids (PostgreSQL's sequence was moved)
        db.session.add(DeliveryLog(uuid="u", subscription_id=subs[0].subscription_id, success=True))
        db.session.commit()
        assert db.session.scalar(select(func.max(DeliveryLog.log_id))) == 301


def test_cleanup_logs_honours_the_settings(runner, app):
    with app.app_context():
        seed_aged_logs((1, 40))
    assert invoke(runner, "cleanup-logs") == (0, "deleted 0 log rows\n")
    invoke(runner, "settings", "set", "log_cleanup_enabled", "on")
    assert invoke(runner, "cleanup-logs") == (0, "deleted 1 log rows\n")
    assert invoke(runner, "cleanup-logs", "--force", "--days", "0") == (0, "deleted 1 log rows\n")
