"""The search contract on an Elasticsearch cluster.

``backend.ElasticsearchBackend`` searches with ``query`` (the parsed query rebuilt as a
``query_string`` that keeps the contract's semantics). Log rows reach the cluster through
``outbox`` (rows written in the log's transaction) and ``flush`` (bulk requests);
``mapping`` and ``indices`` define the per-event indices behind their aliases, and
``rebuild`` reindexes into a new version and swaps the alias.

May import: ``app.search``'s shared modules, ``app.search.lucene``, ``app.settings``,
``app.db``, ``app.models`` and ``app.extensions``.
"""
