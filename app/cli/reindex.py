"""``flask reindex``: rebuild the search index from the delivery log, with a progress bar."""

from __future__ import annotations

import inspect
from typing import Any

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from app import settings
from app.search.backend import SearchUnavailable
from app.search.indexing import get_engines


@click.command("reindex")
@click.option(
    "--event", "event_name", metavar="NAME", help="Only this event (default: every subscribed one)."
)
@click.option(
    "--engine",
    type=click.Choice(["all", "embedded", "external"]),
    default="all",
    show_default=True,
    help="Which index to rebuild: the embedded one, the external cluster's, or each there is.",
)
@with_appcontext
def reindex_command(event_name: str | None, engine: str) -> None:
    """Rebuild the search index into a new version, search it, and drop the old one.

    Each index is rebuilt on its own: the cluster's failing (down, or one event's index
    refused) never stops the embedded index's rebuild, nor the cluster's other events."""
    if not settings.get("indexing_enabled"):
        raise click.ClickException(
            "indexing is disabled (setting indexing_enabled): nothing was rebuilt. "
            "Enable it with: flask settings set indexing_enabled true"
        )
    engines = get_engines()
    targets = {"embedded": engines.embedded, "external": engines.external}
    chosen = [(name, b) for name, b in targets.items() if engine in ("all", name) and b]
    if not chosen:
        raise click.ClickException(f"there is no {engine} index to rebuild")
    failed = []
    for name, backend in chosen:
        try:
            count = _rebuild(backend, event_name)
        except SearchUnavailable as exc:
            failed.append(f"{name}: {exc}")
            click.echo(f"reindex of the {name} index stopped, its old index stays in use: {exc}")
            continue
        done = "reindexed" if count is None else f"reindexed {count} log rows"
        click.echo(f"{done} ({name}{', event ' + event_name if event_name else ''})")
    if failed:
        raise click.ClickException("not every index was rebuilt; see above")


def _rebuild(backend: Any, event_name: str | None) -> int | None:
    """Run the backend's rebuild, with a progress bar if it reports progress."""
    if "progress" not in inspect.signature(backend.rebuild).parameters:
        return backend.rebuild(event_name)
    with tqdm(desc="reindex", unit=" logs", mininterval=0.5) as bar:  # on stderr
        return backend.rebuild(event_name, progress=bar)


COMMANDS = [reindex_command]
