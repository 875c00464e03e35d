"""The eventgrid sink: delivery to Azure Event Grid, one module per job.

``sink`` (the request the Azure SDK sends, outcomes), ``recipient`` (the three recipient
forms and their credentials) and ``token`` (the Entra ID token cache). ``SINK_TYPE`` is what
the registry lists; the page is docs/sink-eventgrid.md.

May import: ``app.sinks`` (the contract, the SSRF guard, the deadline) and the http sink's
transport; never the delivery engine, which calls the sink, nor the database.
"""

from __future__ import annotations

from app.sinks.eventgrid.sink import SINK_TYPE

__all__ = ["SINK_TYPE"]
