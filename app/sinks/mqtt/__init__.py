"""The mqtt sink: delivery to MQTT 5, one module per job.

``sink`` (the recipient, the CloudEvents MQTT binding, outcomes), ``link`` (pooled
connections) and ``client`` (paho's client, guarded, and the reason codes). ``SINK_TYPE`` is
what the registry lists; the page is docs/sink-mqtt.md.

May import: ``app.sinks`` (the contract, the SSRF guard, the deadline) and paho-mqtt; never
the delivery engine, which calls the sink, nor the database.
"""

from __future__ import annotations

from app.sinks.mqtt.sink import SINK_TYPE

__all__ = ["SINK_TYPE"]
