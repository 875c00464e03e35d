"""The embedded search index: postings in SQL tables, on SQLite or PostgreSQL.

``backend.SqlBackend`` keeps the search contract.
- Writing: ``leaves`` puts a document's leaves in the stored form of ``values``,
  ``fields`` names leaf paths with small ids, and ``write`` stores documents and postings
  in bulk, in the caller's transaction; ``rebuild`` re-indexes from the log.
- Searching: ``plan`` answers a query with a per-document test, a candidate set, or set
  algebra (``algebra``); ``match`` turns each leaf into postings and a ``probe`` (a test
  on one document's leaves), with ``text`` for prefixes, wildcards and ranges; ``count``
  counts exactly.
- Time: ``budget`` holds a search to its deadline on SQLite, ``pg_budget`` and
  ``pg_watchdog`` on PostgreSQL.

May import: ``app.search``'s shared modules (``backend``, ``documents``, ``budget``,
``cost``), ``app.search.lucene``, ``app.settings``, ``app.db``, ``app.models`` and
``app.extensions``.
"""
