"""The search contract on an external cluster: Elasticsearch 8 or 9, OpenSearch 2 or 3.

``config`` reads where the cluster is and how to reach it; ``handshake`` identifies the
engine and version at the URL; ``engines`` says what differs between them for us;
``transport`` sends requests through the engine's own client (elasticsearch-py in its
compatibility mode, or opensearch-py). ``backend.ExternalBackend`` searches with
``query`` (the parsed query rebuilt as a ``query_string`` that keeps the contract's
semantics). Log rows reach the cluster through ``outbox`` (rows written in the log's
transaction) and ``flush`` (bulk requests); ``mapping`` and ``indices`` define the
per-event indices behind their aliases, and ``rebuild`` reindexes into a new version
and swaps the alias, one event at a time.

May import: ``app.search``'s shared modules, ``app.search.lucene``, ``app.settings``,
``app.db``, ``app.models`` and ``app.extensions``.
"""
