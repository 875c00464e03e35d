"""Sending leased chains: through the worker's dispatcher, or right here.

A long-running worker (``app.delivery.worker``) enables a dispatcher
(``app.delivery.dispatcher``) for its process: the feeder and the jobs hand it their
attempts and go on, and its recorder stores them as they land. Elsewhere (burst workers,
tests, the CLI) ``deliver`` sends the attempts on the app's sink thread pool and records
each batch of finished ones as it lands, before it returns.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from flask import Flask, current_app

from app.delivery import attempts
from app.delivery.attempts import Attempt
from app.delivery.dispatcher import Dispatcher
from app.delivery.fanout import NewChain
from app.delivery.outcomes import record
from app.models import Delivery

_lock = threading.Lock()


def enable(app: Flask) -> None:
    """Let this process's jobs use a dispatcher (a long-running worker calls this)."""
    app.extensions["dispatcher"] = None


def current(app: Flask) -> Dispatcher | None:
    """The process's dispatcher if ``enable`` was called, created on first use; else None.

    Created lazily, after RQ has forked its scheduler, so no child inherits its threads.
    """
    if "dispatcher" not in app.extensions:
        return None
    with _lock:
        if app.extensions["dispatcher"] is None:
            config = app.config
            app.extensions["dispatcher"] = Dispatcher(
                app,
                config["DELIVERY_CONCURRENCY"],
                config["DELIVERY_ENDPOINT_CONCURRENCY"],
                config["DELIVERY_LEASE_SECONDS"],
                config["DELIVERY_MAX_UNRECORDED"],
            )
        return app.extensions["dispatcher"]


def deliver(chains: list[Delivery] | list[NewChain]) -> None:
    """Send leased chains: through the process's dispatcher if it has one, else right here.

    In a long-running worker this returns once the attempts are handed over, and they
    are recorded as they land. Elsewhere (burst workers, tests, the CLI) the attempts
    are sent and recorded before this returns.
    """
    ready = attempts.prepare(chains)
    if not ready:
        return
    running = current(current_app._get_current_object())
    if running is not None:
        running.submit(ready)
    else:
        run(ready)


def close(app: Flask) -> None:
    """Close the process's dispatcher, if one was made."""
    running = app.extensions.pop("dispatcher", None)
    if running is not None:
        running.close(timeout=app.config["DELIVERY_TOTAL_TIMEOUT"] + 5)


def run(ready: list[Attempt]) -> None:
    """Send every attempt concurrently and record each batch of finished ones as it lands.

    Recording as results arrive, not at the end, is what keeps one slow endpoint
    from delaying the log rows and retries of the others.
    """
    if not ready:
        return
    executor = _executor(current_app._get_current_object())
    pending: set[Future[Attempt]] = {executor.submit(attempts.send, a) for a in ready}
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        record([f.result() for f in done])


def _executor(app: Flask) -> ThreadPoolExecutor:
    """The app's sink thread pool, created on first use in this process."""
    executor = app.extensions.get("delivery_executor")
    if executor is None:
        size = app.config["DELIVERY_CONCURRENCY"]
        executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="delivery")
        app.extensions["delivery_executor"] = executor
    return executor
