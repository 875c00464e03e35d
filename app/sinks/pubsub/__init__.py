"""The pubsub sink: delivery to Google Cloud Pub/Sub, one module per job.

``sink`` (the recipient, the CloudEvents Pub/Sub binding, outcomes) and ``client``
(credentials, and one shared Publish client under the deadline). ``SINK_TYPE`` is what the
registry lists; the page is docs/sink-pubsub.md.

May import: ``app.sinks`` (the contract, the SSRF guard, the deadline) and google-cloud-
pubsub; never the delivery engine, which calls the sink, nor the database.
"""

from __future__ import annotations

from app.sinks.pubsub.sink import SINK_TYPE

__all__ = ["SINK_TYPE"]
