"""``flask search``: find delivery log rows with Lucene syntax; list, ids, or CSV export."""

from __future__ import annotations

import csv
import itertools
import sys
from collections.abc import Iterator

import click
from flask.cli import with_appcontext

from app.search.failover import CHOICES, Choice
from app.usecases import search as search_service
from app.usecases.export import CSV_COLUMNS, csv_row


@click.command("search")
@click.argument("query")
@click.option("--ids", "output", flag_value="ids", help="Print only log_ids, one per line.")
@click.option("--csv", "output", flag_value="csv", help="Print CSV: " + ", ".join(CSV_COLUMNS))
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N rows (all).")
@click.option(
    "--engine",
    type=click.Choice(CHOICES),
    default="auto",
    show_default=True,
    help="auto: the external cluster, or the embedded index while it is unavailable.",
)
@with_appcontext
def search_command(query: str, output: str | None, limit: int | None, engine: Choice) -> None:
    """Print the log rows QUERY matches, newest first (Lucene syntax; '' for all).

    Which engine answered, and why when the embedded index stood in for the external
    cluster, goes to stderr, so --ids and --csv output stays clean."""
    searcher = search_service.Searcher(engine)
    try:
        hits = search_service.iter_all(query, searcher=searcher)
        first = next(hits, None)  # parse errors surface before any output
    except search_service.SearchTimeout as exc:  # the query is valid, only too slow
        raise click.ClickException(str(exc)) from None
    except search_service.QuerySyntaxError as exc:
        raise click.ClickException(f"invalid query: {exc}") from None
    except search_service.SearchUnavailable as exc:
        raise click.ClickException(f"search is unavailable: {exc}") from None
    _tell(searcher)
    told = searcher.notice
    try:
        _print(itertools.chain([first] if first else [], hits), output, limit)
    except (search_service.QuerySyntaxError, search_service.SearchUnavailable) as exc:
        raise click.ClickException(f"search stopped part-way: {exc}") from None
    if searcher.notice != told:
        _tell(searcher)  # it fell back part-way: say so at the end


def _tell(searcher: search_service.Searcher) -> None:
    if searcher.notice:
        click.echo(f"notice: {searcher.notice}", err=True)
    click.echo(f"searched with {searcher.engine}", err=True)


def _print(hits: Iterator[search_service.Hit], output: str | None, limit: int | None) -> None:
    rows = itertools.islice(hits, limit)
    if output == "ids":
        for hit in rows:
            click.echo(hit.log.log_id)
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for hit in rows:
            writer.writerow(csv_row(hit))
    else:
        shown = 0
        for hit in rows:
            click.echo(_line(hit))
            shown += 1
        click.echo(f"{shown} log rows", err=True)


def _line(hit: search_service.Hit) -> str:
    log = hit.log
    mark = "Success" if log.success else "Failed "
    response = " ".join((log.response_data or "").split())[:80]
    return f"#{log.log_id}  {log.created:%Y-%m-%d %H:%M:%S}  {mark}  {hit.event_name}  {response}"


COMMANDS = [search_command]
