"""Lucene-syntax search over the delivery history, on an embedded SQL index or Elasticsearch.

- ``lucene``: the query language, parsed exactly as real Lucene parses it.
- ``backend``: the contract every backend keeps (``SearchBackend``, ``LogDocument``);
  ``documents`` turns a log row into the contract's document; ``registry`` picks the
  backend from the config; ``indexing`` writes documents in the log rows' transaction.
- ``cost`` and ``budget``: how much one query may ask (clauses, wildcards) and how long
  it may run, on every backend.
- ``sql``: the embedded index on SQLite or PostgreSQL, the default.
- ``elasticsearch``: the same contract on an Elasticsearch cluster.

May import: ``app.settings``, ``app.db``, ``app.models`` and ``app.extensions``; never the
delivery engine (which indexes through ``indexing``), the use cases or the interfaces.
"""
