"""What the input fuzzing shares: its hypothesis settings, seeded data, and the check itself.

The runs are derandomized with a fixed number of examples, so CI is reproducible and
bounded; ``INPUT_FUZZ_EXAMPLES`` raises the number for a longer hunt on a laptop.
"""

from __future__ import annotations

import logging
import os
import uuid as uuidlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import DeadLetter
from app.usecases import access, subscriptions
from tests.api.input_strategies import integers, texts
from tests.log_rows import add_logs

EXAMPLES = int(os.environ.get("INPUT_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PASSWORD = "a long enough password"


@pytest.fixture
def seeded(app, caplog):
    """A subscription, an indexed log row and its dead letter; a manage token; an admin and
    another user."""
    app.config.update(WTF_CSRF_ENABLED=False, API_AUTH_FAILURE_LIMIT=10**9)
    with app.app_context():
        subscriptions.create("example.event", "https://example.com/hook", "tok")
        chain = str(uuidlib.uuid4())
        add_logs("example.event", [{"uuid": chain, "success": False, "data": {"id": 1}}])
        db.session.add(DeadLetter(uuid=chain, subscription_id=1, death_count=1, reason="x"))
        db.session.commit()
        token = access.create_token("fuzz", ["manage"])[1]
        access.create_user("fuzz_admin", PASSWORD, role="admin")
        other = access.create_user("someone", PASSWORD, role="viewer").id
    admin = app.test_client()
    reply = admin.post("/admin/login", data={"username": "fuzz_admin", "password": PASSWORD})
    assert reply.status_code == 302
    caplog.set_level(logging.ERROR)
    return {"token": token, "admin": admin, "other": other, "chain": chain}


def check(response, caplog, rest: bool) -> None:
    """Below 500, in the family's shape, and nothing logged as unchecked or unexpected."""
    where = f"{response.request.method} {response.request.full_path[:300]}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.data[:300]}"
    if response.status_code >= 400:  # REST answers JSON; the dashboard, pages
        shape = set(response.json or {}) if rest else {response.mimetype}
        assert shape == ({"message", "parameters"} if rest else {"text/html"}), where
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, f"{where}: {errors}"
    caplog.clear()


def still_signed_in(client) -> None:
    """The fuzzing's admin still reaches the dashboard: its requests were not all bounced."""
    assert client.get("/admin/").status_code == 200


def segments() -> st.SearchStrategy[str]:
    """A path segment: any integer, or hostile text percent-encoded as a client would."""
    hostile = texts().map(lambda t: quote(t.encode("utf-8", "surrogatepass"), safe=""))
    return st.one_of(integers().map(str), hostile)
