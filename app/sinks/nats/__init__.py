"""The nats sink: delivery to NATS JetStream, one module per job.

``sink`` (the message, judging the PubAck), ``wire`` (the NATS text protocol over a socket)
and ``pool`` (dialling past the SSRF guard, pooled connections). ``SINK_TYPE`` is what the
registry lists; the page is docs/sink-nats.md.

May import: ``app.sinks`` (the contract, the SSRF guard, the deadline) and the standard
library only; never the delivery engine, which calls the sink, nor the database.
"""

from __future__ import annotations

from app.sinks.nats.sink import SINK_TYPE

__all__ = ["SINK_TYPE"]
