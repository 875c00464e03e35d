"""Sinks from other packages: an installed entry point adds one, with no edit of ours."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from app import create_app
from app.sinks import get_sink, sink_label, sink_names, validate_recipient
from app.sinks.registry import BUILTIN, SinkPluginError

PLUGIN = """
from app.sinks import Outcome, SinkType


class LogSink:
    name = "{name}"

    def __init__(self, prefix):
        self.prefix, self.sent = prefix, []

    def deliver(self, request):
        self.sent.append(request.event.id)
        return Outcome(True, False, self.prefix + request.recipient)


def recipient_error(recipient):
    return None if recipient.startswith("log://") else "a log:// recipient, please"


SINK_TYPE = SinkType(
    "{name}", "A log", lambda config: LogSink(config.get("LOG_SINK_PREFIX", "")), recipient_error
)
NOT_A_SINK_TYPE = object()
"""


def install(tmp_path: Path, entry_points: str, name: str = "logsink") -> Path:
    """A package on sys.path with a dist-info, as ``pip install`` would leave it."""
    (tmp_path / "acme_log_sink.py").write_text(PLUGIN.format(name=name))
    info = tmp_path / "acme_log_sink-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-log-sink\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    return tmp_path


@pytest.fixture
def on_path(monkeypatch):
    def add(path: Path) -> None:
        monkeypatch.syspath_prepend(str(path))
        monkeypatch.delitem(sys.modules, "acme_log_sink", raising=False)

    return add


def test_an_entry_point_adds_a_sink(tmp_path, on_path, config):
    on_path(install(tmp_path, "[async_events.sinks]\nlogsink = acme_log_sink:SINK_TYPE\n"))
    app = create_app({**config, "LOG_SINK_PREFIX": "logged "})
    with app.app_context():
        assert sink_names() == sorted([*(kind.name for kind in BUILTIN), "logsink"])
        assert sink_label("logsink") == "A log"
        assert validate_recipient("logsink", "log://here") is None
        assert validate_recipient("logsink", "https://x") == "a log:// recipient, please"
        assert get_sink("logsink").prefix == "logged "  # built from the app's config


@pytest.mark.parametrize(
    ("entry", "name", "message"),
    [
        ("http = acme_log_sink:SINK_TYPE", "http", "sink 'http' from entry point http"),
        ("other = acme_log_sink:SINK_TYPE", "logsink", "names its sink 'logsink', not 'other'"),
        ("logsink = acme_log_sink:NOT_A_SINK_TYPE", "logsink", "is a object, not a SinkType"),
        ("logsink = acme_log_sink_gone:SINK_TYPE", "logsink", "does not load"),
    ],
)
def test_a_bad_plugin_stops_the_start_and_says_which(
    tmp_path, on_path, config, entry, name, message
):
    on_path(install(tmp_path, f"[async_events.sinks]\n{entry}\n", name))
    with pytest.raises(SinkPluginError, match=message):
        create_app(config)
