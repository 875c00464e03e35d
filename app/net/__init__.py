"""Network plumbing shared by every client that talks to another service over HTTP.

``multi`` runs every HTTP exchange of a client on one thread through libcurl's multi
interface: the webhook sinks send through it (``app.sinks.transport``), with libcurl's
own wall-clock limit over each whole transfer.

``deadline`` keeps one wall-clock deadline over a whole exchange (connect, TLS, send,
status line, headers, body) for clients that run on our threads: a watchdog thread
shuts the socket of an exchange still running at its deadline, so a peer that trickles
one byte per read cannot hold a worker past it. The broker sinks use it for deliveries,
the external search backend for every request to its cluster.

May import: nothing of the app; every layer above may import it.
"""
