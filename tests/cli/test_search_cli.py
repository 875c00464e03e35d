"""``flask search``: listing, ids, CSV export without formula injection, and query errors."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import DeliveryLog
from app.search.indexing import index_logs
from app.usecases import search, subscriptions
from tests.support import shared_dir


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "ELASTICSEARCH_URL": ""}  # the SQL index, even beside a real cluster


@pytest.fixture
def corpus(app, runner, tmp_path):
    generator = shared_dir() / "search" / "gen_corpus.py"
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        subprocess.check_output([sys.executable, str(generator), "300", "7"], text=True)
    )
    assert runner.invoke(args=["import-logs", str(path)]).exit_code == 0
    return app


def test_ids_are_every_match_newest_first(corpus, runner):
    query = "event_name:customer.* AND success:true"
    result = runner.invoke(args=["search", query, "--ids"])
    assert result.exit_code == 0
    with corpus.app_context():
        expected = [hit.log.log_id for hit in search.iter_all(query, batch=10)]
    printed = [int(line) for line in result.stdout.split()]
    assert printed == expected == sorted(expected, reverse=True) and len(printed) > 50


def test_limit_and_listing(corpus, runner):
    result = runner.invoke(args=["search", "success:false", "--limit", "3"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("#") and "Failed" in line for line in lines)
    assert "3 log rows" in result.stderr


def test_an_empty_query_lists_everything(corpus, runner):
    result = runner.invoke(args=["search", "", "--ids"])
    assert result.exit_code == 0 and len(result.stdout.split()) == 300


def test_csv_export_neutralises_formulas(ctx, runner):
    sub = subscriptions.create("example.event", "http://x.test/", "t")
    for response in ('=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "plain, with comma"):
        db.session.add(
            DeliveryLog(
                uuid="u",
                subscription_id=sub.subscription_id,
                success=False,
                response_data=response,
                serialized_data='{"k": "v"}',
            )
        )
    db.session.flush()
    index_logs(db.session.scalars(select(DeliveryLog)).all())
    db.session.commit()
    result = runner.invoke(args=["search", "data.k:v", "--csv"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["log_id", "uuid", "event_name", "success", "created", "response_data"]
    responses = [row[5] for row in rows[1:]]
    assert responses == [
        "plain, with comma",
        "'@SUM(A1)",
        "'-2",
        "'+1",
        '\'=HYPERLINK("http://evil")',
    ]
    assert all(row[2] == "example.event" and row[3] == "false" for row in rows[1:])


@pytest.mark.parametrize("text", ["success:(true", "abc~2", "created:>now-1q"])
def test_a_bad_query_is_an_error_not_an_empty_result(app, runner, text):
    result = runner.invoke(args=["search", text])
    assert result.exit_code == 1
    assert "invalid query" in result.output and result.stdout == ""
