"""The CSV export service: exactly a search's rows, formula-safe cells, streamed in chunks."""

from __future__ import annotations

import csv
import io
import tracemalloc

import pytest

from app.search.lucene.ast import QuerySyntaxError
from app.usecases import export, search
from tests.log_rows import add_logs


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_export_is_exactly_the_search_newest_first(ctx):
    add_logs("example.event", [{"success": i % 3 != 0, "data": {"n": i}} for i in range(25)])
    add_logs("customer.created", [{"success": True} for _ in range(5)])
    query = "event_name:example.event AND success:true"
    rows = rows_of("".join(export.csv_lines(query, batch=4)))
    assert rows[0] == list(export.CSV_COLUMNS)
    expected = [str(hit.log.log_id) for hit in search.iter_all(query)]
    assert [row[0] for row in rows[1:]] == expected and len(expected) == 16
    assert {row[2] for row in rows[1:]} == {"example.event"}
    assert {row[3] for row in rows[1:]} == {"true"}


def test_cells_a_spreadsheet_would_run_are_neutralised(ctx):
    responses = ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", 'plain, "quoted"\nline']
    add_logs("example.event", [{"response_data": r} for r in responses])
    rows = rows_of("".join(export.csv_lines("")))
    assert [row[5] for row in rows[1:]] == [
        'plain, "quoted"\nline',
        "'\tx",
        "'@SUM(A1)",
        "'-2",
        "'+1",
        "'=cmd|' /C calc'!A0",
    ]


def test_a_bad_query_fails_before_anything_is_written(ctx):
    with pytest.raises(QuerySyntaxError) as caught:
        export.csv_lines("success:(true")
    assert caught.value.position is not None


def test_export_streams_in_bounded_memory(ctx):
    """10 000 rows of 1 KB come out in chunks of ``batch`` rows, never all at once in memory."""
    add_logs("example.event", [{"response_data": "x" * 1000} for _ in range(10_000)])
    tracemalloc.start()
    try:
        chunks = sizes = 0
        for chunk in export.csv_lines("", batch=200):
            chunks += 1
            sizes += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chunks == 51  # header with the first 200, 49 more, then the empty tail
    assert sizes > 10_000_000
    assert peak < 5_000_000, f"peak {peak} bytes for 10 MB of CSV: the export is not streaming"
