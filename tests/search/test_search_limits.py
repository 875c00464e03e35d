"""Query cost limits and time budgets on the SQL index, over SQLite and PostgreSQL.

The issue's query (250 OR'ed leading wildcards) took 15 s of a web worker over 5,000
logs. Limits on clauses, wildcard terms and length refuse such a query before any
search; a query within them that is still slow is stopped at its time budget, and
neither leaves anything behind on the connection that ran it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from app import create_app
from app.extensions import db
from app.search import budget
from app.search.backend import ParsedQuery
from app.search.cost import CostLimits, QueryTooCostly, check_cost, measure
from app.search.indexing import get_backend
from app.search.lucene.ast import QuerySyntaxError
from app.search.lucene.datemath import DateMathError
from app.search.lucene.parser import parse
from app.search.sql import budget as sql_budget
from app.usecases import export, search
from tests.log_rows import add_logs
from tests.search.lucene.lucene_strategies import lucene_queries
from tests.support import shared_dir

COSTLY = " OR ".join(f"*x{i}*" for i in range(250))  # the issue's query
# 16 leading wildcards over every field: within every limit, but each reads every keyword.
SLOW = " OR ".join(f"*{c}{c}q*" for c in "abcdefghijklmnop")
TINY = 0.05  # s: a budget SLOW cannot meet over HISTORY rows, on any machine we have
HISTORY = 2000


@pytest.fixture
def config(config: dict) -> dict:
    return {**config, "ELASTICSEARCH_URL": ""}  # the SQL index, even beside a real cluster


@pytest.fixture
def history(app):
    """HISTORY log rows with a few payload fields each (about 12 keywords a row)."""
    rows = [
        {
            "data": {"email": f"user{n}@example.com", "sku": f"SKU-{n % 40:03d}", "n": n},
            "response_data": f"HTTP 200 #{n}",
        }
        for n in range(HISTORY)
    ]
    with app.app_context():
        add_logs("example.event", rows)
    return app


def searches(api, q: str):
    return api.call(
        "GET", "/rest/V1/async_event_logs", api.token("logs_list"), query_string={"q": q}
    )


def test_the_issues_query_is_refused_at_once(api, history):
    started = time.perf_counter()
    response = searches(api, COSTLY)
    elapsed = time.perf_counter() - started
    assert response.status_code == 400, response.json
    assert "too many wildcard terms: 250, at most 16" in response.json["message"]
    assert "SEARCH_MAX_WILDCARDS" in response.json["message"]
    assert response.json["parameters"] == []
    assert elapsed < 1.0  # it took 15 s before the limit; now no search runs at all


def test_clauses_are_counted_over_the_whole_query(api, history):
    group = "(" + " ".join(["+a"] * 550) + ")"  # within Lucene's 1,024 clauses a group
    q = f"{group} {group}"  # 1,100 leaves in all
    assert len(q) < 4000
    response = searches(api, q)
    assert response.status_code == 400
    assert "too many clauses: 1100, at most 1024" in response.json["message"]


def test_a_slow_query_is_stopped_at_its_time_budget(app, api, history):
    app.config["SEARCH_TIMEOUT"] = TINY
    started = time.perf_counter()
    response = searches(api, SLOW)
    elapsed = time.perf_counter() - started
    assert response.status_code == 422, response.json
    assert response.json["message"].startswith("the search took longer than 0.05 s")
    assert "Narrow it" in response.json["message"]
    assert elapsed < 2.0  # the budget, the request around it, and a loaded machine
    app.config["SEARCH_TIMEOUT"] = 60.0
    assert searches(api, SLOW).status_code == 200  # the same query, given the time


def test_a_search_leaves_nothing_on_its_connection_stopped_or_not(app, history, backend):
    with app.app_context():
        connection = db.session.connection().connection.dbapi_connection
        app.config["SEARCH_TIMEOUT"] = TINY
        with pytest.raises(search.SearchTimeout):
            search.search(SLOW)
        assert db.session.connection().connection.dbapi_connection is connection
        assert _no_timer_left(backend)  # the same transaction, which goes on
        app.config["SEARCH_TIMEOUT"] = 0.5
        assert search.count("data.data.sku:SKU-007") == HISTORY // 40  # within its budget
        time.sleep(0.6)  # a timer left behind would now fire on the next statement
        assert _no_timer_left(backend)
        db.session.commit()
        assert db.session.connection().connection.dbapi_connection is connection
        assert _no_timer_left(backend)


def test_a_search_may_be_the_first_statement_on_a_pooled_connection(app, history):
    """The pool pings a connection as it hands it out, on PostgreSQL in autocommit: when
    a search takes it, the ping runs inside the search, and must not be timed."""
    app.config["SEARCH_TIMEOUT"] = 2.0
    with app.app_context():
        assert search.count("data.data.sku:SKU-007") == HISTORY // 40
    app.config["SEARCH_TIMEOUT"] = TINY
    with app.app_context(), pytest.raises(search.SearchTimeout):
        search.search(SLOW)  # on the connection the first search gave back, pinged


def test_a_cancelled_search_keeps_the_callers_writes(app, history, backend):
    """Before a search in a transaction that wrote, PostgreSQL sets a savepoint; the
    search's cancel goes back to it, and the write is still there to commit."""
    with app.app_context():
        db.session.execute(text("UPDATE async_event_subscriber SET store_id = store_id"))  # a write
        db.session.execute(text("CREATE TEMPORARY TABLE kept (n int)"))
        db.session.execute(text("INSERT INTO kept VALUES (7)"))
        app.config["SEARCH_TIMEOUT"] = TINY
        with pytest.raises(search.SearchTimeout):
            search.search(SLOW)
        assert db.session.scalar(text("SELECT n FROM kept")) == 7  # the write survived
        app.config["SEARCH_TIMEOUT"] = 2.0
        assert search.count("data.data.sku:SKU-007") == HISTORY // 40  # searches go on
        assert db.session.scalar(text("SELECT count(*) FROM kept")) == 1
        db.session.rollback()


def test_a_cancelled_read_only_search_leaves_a_usable_transaction(app, history, backend):
    """Only reads before it: a cancel rolls back reads alone, and the session goes on."""
    with app.app_context():
        before = db.session.scalar(text("SELECT count(*) FROM async_event_subscriber"))
        app.config["SEARCH_TIMEOUT"] = TINY
        for _ in range(3):  # again and again on the same connection
            with pytest.raises(search.SearchTimeout):
                search.search(SLOW)
            assert db.session.scalar(text("SELECT count(*) FROM async_event_subscriber")) == before
        db.session.commit()


def test_a_late_cancel_never_reaches_the_next_statement(app, history, backend):
    """Searches whose deadline falls just as they end: what runs next is never cancelled."""
    if backend != "postgresql":
        pytest.skip("the cancel request is PostgreSQL's")
    with app.app_context():
        for n in range(40):
            deadline = budget.deadline(0.002 + (n % 8) * 0.001)
            with deadline, contextlib.suppress(search.SearchTimeout):
                search.count("data.data.sku:SKU-007")
            assert db.session.scalar(text("SELECT 1 FROM pg_sleep(0.01)")) == 1
        db.session.rollback()


def _no_timer_left(backend: str) -> bool:
    """No deadline, no progress handler, no statement_timeout: a slow search runs to the end."""
    if backend == "postgresql":
        assert db.session.scalar(text("SHOW statement_timeout")) == "0"
    assert budget.current() is None
    return get_backend().search(ParsedQuery(SLOW, parse(SLOW)), 50) == []


def test_bulk_replay_counts_are_limited_too(app, api, history):
    token = api.token("logs_replay")
    costly = api.call("POST", "/rest/V1/async_event_logs/replay", token, json={"q": COSTLY})
    assert costly.status_code == 400 and "wildcard terms" in costly.json["message"]
    app.config["SEARCH_TIMEOUT"] = TINY
    slow = api.call("POST", "/rest/V1/async_event_logs/replay", token, json={"q": SLOW})
    assert slow.status_code == 422 and "took longer than" in slow.json["message"]


def test_csv_export_has_its_own_budget_per_batch(app, history):
    app.config["SEARCH_TIMEOUT"] = TINY  # interactive searches' budget: not the export's
    with app.app_context():
        with pytest.raises(QueryTooCostly):
            export.csv_lines(COSTLY)
        assert "".join(export.csv_lines(SLOW)).count("\n") == 1  # just the header: no match
        app.config["SEARCH_EXPORT_TIMEOUT"] = TINY
        with pytest.raises(search.SearchTimeout):
            export.csv_lines(SLOW)  # the first batch runs before anything is sent


def test_limits_follow_the_settings(app, history):
    app.config.update(SEARCH_MAX_WILDCARDS=2, SEARCH_MAX_CLAUSES=3, SEARCH_MAX_LENGTH=40)
    with app.app_context():
        assert search.count("a* OR *b") == 0
        with pytest.raises(QueryTooCostly, match="wildcard terms: 3, at most 2"):
            search.count("a* OR *b OR c?d")
        with pytest.raises(QueryTooCostly, match="clauses: 4, at most 3"):
            search.count("a b:1 c")  # b:1 reads as a number: a keyword and a number
        with pytest.raises(QueryTooCostly, match="too long: 41 characters, at most 40"):
            search.count("x" * 41)


def test_cost_counts_every_leaf_and_every_pattern():
    cost = measure(parse("(a OR b:c*) AND NOT (d:[1 TO 2] OR e:*f? OR _exists_:g OR h:*)"))
    assert (cost.clauses, cost.wildcards) == (6, 2)  # exists (h:* too) is no wildcard
    assert measure(parse("n:5 OR n:five OR n:(1 OR 2)")).clauses == 2 + 1 + 2 + 2
    assert measure(parse("n:(1 2)")).clauses == 1  # one value, "1 2", which is no number
    assert measure(parse("-a")).clauses == 2  # with the match-all a negative group implies


def test_the_defaults_admit_every_public_query():
    public = (shared_dir() / "search" / "queries-public.txt").read_text().splitlines()
    queries = [q for q in public if q.strip() and not q.startswith("#")]
    assert len(queries) >= 36
    for q in queries:
        check_cost(parse(q), CostLimits())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(lucene_queries())
def test_the_defaults_admit_every_generated_query(q: str):
    """The oracle and conformance suites draw from these; each must pass the defaults."""
    try:
        query = parse(q)
    except (QuerySyntaxError, DateMathError):  # the oracle compares these; not our concern
        return
    assert len(q) <= CostLimits().max_length
    check_cost(query, CostLimits())


def test_the_sqlite_handler_stops_only_its_own_thread_and_connection(tmp_path):
    """Another thread on the same connection, and any other connection (a writer), run on."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    other = create_engine(url)
    with Session(engine) as session, budget.deadline(TINY):
        with sql_budget.enforced(session):
            driver = session.connection().connection.dbapi_connection
            time.sleep(TINY * 2)  # past the deadline, with the handler installed
            found: list[int] = []
            beside = threading.Thread(target=lambda: found.append(_count_to(driver)))
            beside.start()
            beside.join()
            assert found == [RECURSION]  # another thread on this connection: not stopped
            with other.connect() as writer:  # another connection: no handler at all
                assert _count_to(writer.connection.dbapi_connection) == RECURSION
            with pytest.raises(sqlite3.OperationalError, match="interrupted"):
                _count_to(driver)  # the search's own thread: stopped
        assert _count_to(driver) == RECURSION  # and the handler is gone afterwards
    other.dispose()
    engine.dispose()


RECURSION = 1_000_000  # rows a recursive CTE counts: well over TINY on any machine


def _count_to(driver) -> int:
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    return driver.execute(sql + "SELECT count(*) FROM n", (RECURSION,)).fetchone()[0]


@pytest.mark.parametrize(
    ("setting", "value"),
    [("SEARCH_MAX_CLAUSES", 0), ("SEARCH_MAX_WILDCARDS", -1), ("SEARCH_TIMEOUT", 0)],
)
def test_a_bad_limit_stops_the_app_at_start_up(config, setting, value):
    with pytest.raises(ValueError, match=setting):
        create_app({**config, setting: value})
