"""The delivery engine: from ``publish()`` to a committed log row, retried until done.

Read its modules in this order; each one's docstring says how it does its part.

1. ``publishing``: check an event (``payloads``: what can be stored and delivered
   faithfully) and commit it through the ``outbox`` (group commit of the rows that
   ``publication_rows`` inserts); the ``relay`` thread pushes the committed ids to
   Redis. The database, not Redis, holds every publication.
2. ``feeder``: each worker's thread that pops published ids from Redis; ``fanout``
   resolves a publication once, through its event definition, and opens one delivery
   chain per enabled subscription.
3. ``sending``: hands the leased chains to the worker's ``dispatcher`` (per-endpoint
   fair, bounded, with backpressure from the recorder), or sends them right there;
   ``attempts`` builds each signed request and sends it through its sink (``app.sinks``),
   within the sink's wall-clock deadline.
4. ``recorder``: the dispatcher's thread that stores finished attempts in batches;
   ``outcomes`` writes one log row per attempt (``logrows``, with its search postings)
   and then delivers, retries (``backoff``: min(60, n²) s) or dead-letters the chain,
   in one transaction. A delivery counts once that transaction commits.
5. ``sweeper``: re-queues what Redis forgot or a crashed worker dropped, from the
   database; ``housekeeping`` runs it in every worker, with the daily ``retention`` and
   the Elasticsearch outbox flush.
6. ``worker``: the RQ worker that runs all of this without forking, with its finer
   ``scheduler``, through Redis outages (``app.broker.outages``); ``queues`` names the
   RQ queues and enqueues the jobs of ``jobs/``.

May import: ``app.search`` (log rows are indexed as they are written), ``app.sinks``,
``app.events``, and the layers below them (``app.db``, ``app.broker``, ``app.settings``,
``app.models``). Never the use cases or the interfaces, which call it.
"""
