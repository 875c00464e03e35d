"""Lucene-syntax search over the delivery history: an embedded SQL index, or a cluster.

- ``lucene``: the query language, parsed exactly as real Lucene parses it.
- ``backend``: the contract every backend keeps (``SearchBackend``, ``LogDocument``);
  ``documents`` turns a log row into the contract's document; ``registry`` picks the
  backend from the config; ``indexing`` writes documents in the log rows' transaction.
- ``cost`` and ``budget``: how much one query may ask (clauses, wildcards) and how long
  it may run, on every backend.
- ``sql``: the embedded index on SQLite or PostgreSQL, the default.
- ``external``: the same contract on Elasticsearch 8/9 or OpenSearch 2/3; ``failover``
  answers from the embedded index while the cluster cannot.

May import: ``app.settings``, ``app.db``, ``app.net``, ``app.models`` and
``app.extensions``; never the delivery engine (which indexes through ``indexing``), the
use cases or the interfaces.
"""
