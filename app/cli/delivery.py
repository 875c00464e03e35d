"""CLI for the delivery pipeline: publish, trace, replay, sweep, retention and log import."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from app.delivery import publishing, retention, sweeper
from app.usecases import logimport, replay, trace


@click.command("publish")
@click.argument("event_name")
@click.argument("arguments", default="{}")
@click.option("--store-id", type=click.IntRange(min=0), default=0, help="0 (default): all stores.")
@with_appcontext
def publish_command(event_name: str, arguments: str, store_id: int) -> None:
    """Publish EVENT_NAME with ARGUMENTS, a JSON object such as '{"id": 1}'."""
    try:
        args = json.loads(arguments)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="ARGUMENTS") from None
    try:
        publication_id = publishing.publish(event_name, args, store_id=store_id)
    except publishing.PublishError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"published {event_name} as publication {publication_id}")


@click.command("replay")
@click.argument("uuids", nargs=-1, required=True)
@with_appcontext
def replay_command(uuids: tuple[str, ...]) -> None:
    """Replay each UUID's first payload as a new chain under the same UUID."""
    result = replay.replay_many(uuids)
    for uuid, chain_id in result.replayed.items():
        click.echo(f"replaying {uuid} as chain {chain_id}")
    for uuid in result.not_found:
        click.echo(f"no delivery log under {uuid}", err=True)
    if result.not_found:
        sys.exit(1)


@click.command("trace")
@click.argument("uuid")
@with_appcontext
def trace_command(uuid: str) -> None:
    """Show every attempt of UUID, its status and its payload."""
    found = trace.trace(uuid)
    if found is None:
        raise click.ClickException(f"This asynchronous event trace no longer exists: {uuid}")
    sub = found.subscription
    click.echo(f"uuid:          {found.uuid}\nstatus:        {found.status}")
    click.echo(f"first attempt: {found.first_attempt}\nlast attempt:  {found.last_attempt}")
    if sub is not None:
        state = "Enabled" if sub.status else "Disabled"
        target = f"{sub.event_name} -> {sub.recipient_url}"
        click.echo(f"subscription:  #{sub.subscription_id} {target} ({state})")
    for row in found.attempts:
        mark = "Success" if row.success else "Failed"
        click.echo(
            f"  #{row.log_id} {row.created} attempt {row.attempt} {mark} {row.status_code or '-'} "
            f"{row.duration_ms} ms: {row.response_data[:100]}"
        )
    click.echo(json.dumps(found.payload, indent=2, ensure_ascii=False))


@click.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Re-queue overdue pending work now (workers also do this on their own)."""
    result = sweeper.sweep()
    click.echo(f"re-queued {result.publications} publications and {result.chains} chains")


@click.command("cleanup-logs")
@click.option("--force", is_flag=True, help="Run even if log cleanup is disabled in the settings.")
@click.option("--days", type=click.IntRange(min=0), default=None, help="Override the log lifetime.")
@with_appcontext
def cleanup_logs_command(force: bool, days: int | None) -> None:
    """Delete delivery logs older than the log lifetime (setting log_lifetime_days)."""
    deleted = retention.cleanup_logs(force=force, days=days)
    click.echo(f"deleted {deleted} log rows")


@click.command("import-logs")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--batch-size", type=click.IntRange(min=1), default=5000)
@with_appcontext
def import_logs_command(source: click.utils.LazyFile, batch_size: int) -> None:
    """Import delivery logs from a JSON Lines FILE (the corpus format; '-' for stdin)."""
    try:
        result = logimport.import_logs(source, batch_size=batch_size)  # type: ignore[arg-type]
    except logimport.ImportError_ as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"imported {result.rows} log rows ({result.subscriptions} placeholder subscriptions)"
    )


COMMANDS = [
    publish_command,
    replay_command,
    trace_command,
    sweep_command,
    cleanup_logs_command,
    import_logs_command,
]
