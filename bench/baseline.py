"""The naive design the delivery benchmark compares against: one RQ job per delivery.

The publisher enqueues one job per (event, subscription); RQ's default forking worker
runs each in a fresh child, which signs the body, sends it with a new ``requests.post``
and inserts its log row through a new database connection. It signs and logs like the
app, but does not index for search, so it is if anything a little flattered.

``python -m bench.baseline URL QUEUE`` runs RQ's default forking ``Worker`` with this
module and its imports loaded first, so the children inherit them instead of importing
per job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from datetime import UTC, datetime

import requests
import sqlalchemy
from redis import Redis
from rq import Queue
from sqlalchemy.pool import NullPool

QUEUE = "bench.baseline"
_INSERT = sqlalchemy.text(
    "INSERT INTO async_event_subscriber_log (uuid, subscription_id, success, response_data,"
    " created, serialized_data, attempt, status_code, duration_ms, retryable)"
    " VALUES (:uuid, :sub, :success, :response, :created, :data, 1, :status, :ms, :retryable)"
)


def deliver(database_url: str, subscription_id: int, url: str, token: str, event: dict) -> bool:
    """One delivery: sign, POST with a new connection, log the attempt. The job function."""
    body = json.dumps(event, separators=(",", ":")).encode()
    now = int(time.time())
    signed = f"{event['id']}.{now}.".encode() + body
    headers = {
        "Content-Type": "application/cloudevents+json",
        "x-magento-signature": _hmac(token, body).hex(),
        "webhook-id": event["id"],
        "webhook-timestamp": str(now),
        "webhook-signature": "v1," + base64.b64encode(_hmac(token, signed)).decode(),
    }
    started = time.monotonic()
    response = requests.post(url, data=body, headers=headers, timeout=15)
    row = {
        "uuid": event["id"],
        "sub": subscription_id,
        "success": response.ok,
        "response": response.text[:65536],
        "created": datetime.now(UTC).replace(tzinfo=None),
        "data": body.decode(),
        "status": response.status_code,
        "ms": int((time.monotonic() - started) * 1000),
        "retryable": response.status_code >= 500,
    }
    engine = sqlalchemy.create_engine(database_url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        sqlalchemy.event.listen(engine, "connect", _sqlite_wait)
    with engine.begin() as connection:
        connection.execute(_INSERT, row)
    return response.ok


def _hmac(token: str, data: bytes) -> bytes:
    return hmac.new(token.encode(), data, hashlib.sha256).digest()


def _sqlite_wait(connection: object, _record: object) -> None:
    connection.execute("PRAGMA busy_timeout=30000")  # type: ignore[attr-defined]


def publish(
    redis: Redis, database_url: str, event_name: str, subs: list[tuple[int, str]], token: str
) -> None:
    """Publish one event the naive way: one job per subscription, enqueued one by one."""
    queue = Queue(QUEUE, connection=redis)
    data = {"t": time.time()}
    for sub_id, url in subs:
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "0",
            "type": event_name,
            "datacontenttype": "application/json",
            "data": data,
        }
        queue.enqueue(deliver, database_url, sub_id, url, token, event, result_ttl=0)


if __name__ == "__main__":
    from rq import Worker  # the default, forking worker class of ``rq worker``

    # Not rq's CLI: it refuses to start while RQ is suspended, and the bench starts
    # every worker suspended so that none begins before the others are up.
    connection = Redis.from_url(sys.argv[1])
    Worker([Queue(sys.argv[2], connection=connection)], connection=connection).work()
