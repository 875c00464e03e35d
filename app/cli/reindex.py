"""``flask reindex``: rebuild the search index from the delivery log, with a progress bar."""

from __future__ import annotations

import inspect
from typing import Any

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from app import settings
from app.search.backend import SearchUnavailable
from app.search.indexing import get_backend


@click.command("reindex")
@click.option(
    "--event", "event_name", metavar="NAME", help="Only this event (default: every subscribed one)."
)
@with_appcontext
def reindex_command(event_name: str | None) -> None:
    """Rebuild the search index into a new version, search it, and drop the old one."""
    if not settings.get("indexing_enabled"):
        raise click.ClickException(
            "indexing is disabled (setting indexing_enabled): nothing was rebuilt. "
            "Enable it with: flask settings set indexing_enabled true"
        )
    backend = get_backend()
    try:
        count = _rebuild(backend, event_name)
    except SearchUnavailable as exc:
        raise click.ClickException(f"reindex stopped, the old index stays in use: {exc}") from None
    done = "reindexed" if count is None else f"reindexed {count} log rows"
    click.echo(f"{done} ({backend.name}{', event ' + event_name if event_name else ''})")


def _rebuild(backend: Any, event_name: str | None) -> int | None:
    """Run the backend's rebuild, with a progress bar if it reports progress."""
    if "progress" not in inspect.signature(backend.rebuild).parameters:
        return backend.rebuild(event_name)
    with tqdm(desc="reindex", unit=" logs", mininterval=0.5) as bar:  # on stderr
        return backend.rebuild(event_name, progress=bar)


COMMANDS = [reindex_command]
