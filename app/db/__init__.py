"""Database infrastructure under the models: what SQLite, PostgreSQL and bulk writes need.

- ``sqlite``: SQLite tuned so the web process and several workers can write one file
  (WAL, the write gate that queues writers instead of failing them).
- ``bulk`` and ``bulkload``: bulk inserts that hand back their ids, and the chores around
  a bulk load.
- ``values``, ``escaping`` and ``isolation``: what a column can hold, how text that it
  cannot (NUL, lone surrogates) is stored losslessly, and how a batch with one bad row
  stores every other row.

May import: ``app.models`` and ``app.extensions``; nothing above them.
"""
