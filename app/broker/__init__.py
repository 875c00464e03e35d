"""The connection to Redis, which carries the queues' wake-ups and RQ's jobs.

``connection`` makes the app's Redis client: a configured server, Sentinel's current
primary (``sentinel_config`` reads the settings, ``sentinel`` follows a failover), or,
when nothing is configured, the embedded real Redis that ``embedded`` runs under
instance/.

May import: nothing of the app but ``app.extensions``; every layer above may import it.
"""
