"""``flask rq worker``: start a delivery worker (the Procfile's worker line)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.broker.connection import get_redis
from app.delivery.housekeeping import Housekeeper
from app.delivery.queues import QUEUES
from app.delivery.worker import AppWorker

rq_group = AppGroup("rq", help="RQ workers for event delivery.")


@rq_group.command("worker")
@click.argument("queues", nargs=-1)
@click.option(
    "--with-scheduler", is_flag=True, help="Also run RQ's scheduler (needed for retries)."
)
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: RQ's).")
@click.option(
    "--sweep/--no-sweep", default=True, help="Sweep for lost work and run retention (default on)."
)
def worker_command(
    queues: tuple[str, ...], with_scheduler: bool, burst: bool, name: str | None, sweep: bool
) -> None:
    """Work the delivery queues (event.trigger, event.retry by default)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    connection = get_redis()
    from rq import Queue

    names = queues or QUEUES
    worker = AppWorker([Queue(n, connection=connection) for n in names], app=app, name=name)
    housekeeper = Housekeeper(app, connection)
    if sweep:
        housekeeper.start()
    try:
        worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        housekeeper.stop()


COMMANDS = [rq_group]
