"""CSV export of delivery history: the columns, formula-safe cells, and streamed lines.

Shared by ``flask search --csv`` and the dashboard's export button, so both write the
same columns and neutralise the same cells.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import chain

from app.usecases import search

CSV_COLUMNS = ("log_id", "uuid", "event_name", "success", "created", "response_data")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection);
# tab and carriage return are on OWASP's list too, as some programs strip them first.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell as text, with a leading quote if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_row(hit: search.Hit) -> list[str]:
    """One log row's CSV cells, in ``CSV_COLUMNS`` order, each made safe."""
    log = hit.log
    created = log.created.strftime("%Y-%m-%d %H:%M:%S")
    success = "true" if log.success else "false"
    values = (log.log_id, log.uuid, hit.event_name, success, created, log.response_data)
    return [safe_cell(v) for v in values]


def csv_lines(query: str, batch: int = 1000) -> Iterator[str]:
    """The CSV text of every row ``query`` matches, newest first, one chunk per ``batch``.

    The query is parsed and its first batch searched now, so a ``QuerySyntaxError``
    (a syntax error, a cost limit, or a first batch past ``SEARCH_EXPORT_TIMEOUT``)
    is raised by this call, before anything is written. The other rows are read
    lazily as the chunks are consumed, each batch within its own export budget, so
    memory stays bounded by ``batch`` whatever the number of matches; a later batch
    that runs out of time raises ``SearchTimeout`` from the iterator, mid-file.
    """
    search.parse_query(query)
    chunks = _chunks(search.iter_all(query, batch=batch), batch)
    return chain([next(chunks)], chunks)


def _chunks(hits: Iterable[search.Hit], batch: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # \r\n line ends, as RFC 4180 and spreadsheets expect
    writer.writerow(CSV_COLUMNS)
    pending = 0
    for hit in hits:
        writer.writerow(csv_row(hit))
        pending += 1
        if pending == batch:
            yield _drain(buffer)
            pending = 0
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
