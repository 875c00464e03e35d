"""The last resort for an exception no view handled, on the REST API and the dashboard.

Input that slipped past a check answers 400 and is logged as an ERROR naming the missing
check; a genuine server fault stays a 500. Both carry a reference that the log repeats.
The routes here raise what such a slip or fault would raise; they are added to the app
before its first request, as any route is.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import DataError

from app.api.last_resort import UNCHECKED


def shape(reply, family: str) -> None:
    if family == "json":
        assert set(reply.json) == {"message", "parameters"}
    else:
        assert reply.mimetype == "text/html"


@pytest.fixture
def raising(app):
    """Routes that raise what a missed check would raise (added before the first request)."""
    faults = {
        "overflow": OverflowError("Python int too large to convert to SQLite INTEGER"),
        "data": DataError("SELECT", {}, Exception("integer out of range")),
        "recursion": RecursionError("maximum recursion depth exceeded"),
        "bug": KeyError("a genuine server fault"),
    }

    def fail(kind: str):
        raise faults[kind]

    app.add_url_rule("/rest/raise/<kind>", "rest_raise", fail)
    app.add_url_rule("/admin/raise/<kind>", "admin_raise", fail)
    return app.test_client()


@pytest.mark.parametrize(("prefix", "family"), [("/rest", "json"), ("/admin", "html")])
@pytest.mark.parametrize(("kind", "status"), [("overflow", 400), ("data", 400), ("recursion", 400)])
def test_input_that_slipped_past_a_check_is_a_400_and_logged(
    raising, caplog, prefix, family, kind, status
):
    reply = raising.get(f"{prefix}/raise/{kind}")
    assert reply.status_code == status
    shape(reply, family)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and UNCHECKED in logged[0].getMessage() and logged[0].exc_info
    reference = logged[0].getMessage().split("reference ")[1][:12]
    assert reference in reply.get_data(as_text=True)


@pytest.mark.parametrize(("prefix", "family"), [("/rest", "json"), ("/admin", "html")])
def test_a_genuine_server_fault_stays_a_logged_500(raising, caplog, prefix, family):
    reply = raising.get(f"{prefix}/raise/bug")
    assert reply.status_code == 500
    shape(reply, family)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and UNCHECKED not in logged[0].getMessage()
    assert logged[0].exc_info[0] is KeyError
    assert logged[0].getMessage().split("reference ")[1][:12] in reply.get_data(as_text=True)
