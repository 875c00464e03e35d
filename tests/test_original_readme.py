"""The original module's README curl examples, run verbatim against a live server."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from tests.support import shared_dir

ORIGINAL_HOST = "https://test.mageos.dev"


def readme_curls() -> list[str]:
    """Every ``curl`` command of the original README, exactly as printed there."""
    text = (shared_dir() / "reference" / "000_1be385a97ce9de23.txt").read_text()
    commands = re.findall(r"^curl .*?^}'$", text, flags=re.M | re.S)
    assert len(commands) == 2, "the original README has two curl examples"
    return commands


@pytest.fixture
def live_url(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("index", [0, 1], ids=["http", "eventbridge"])
def test_readme_curl_examples_work_once_the_host_is_changed(api, live_url, index):
    command = readme_curls()[index]
    token = api.token("manage")
    script = command.replace(ORIGINAL_HOST, live_url).replace("Bearer TOKEN", f"Bearer {token}")
    run = subprocess.run(
        ["bash", "-c", script + " --silent --show-error --write-out '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, status = run.stdout.rsplit("\n", 1)
    assert status == "200", body
    created = json.loads(body)
    assert created["event_name"] == "sales.order.created" and created["status"] is True
    assert "verification_token" not in created and "supersecret" not in body
    listed = api.call("GET", "/rest/V1/async_events?searchCriteria=", api.token("view")).json
    assert [s["subscription_id"] for s in listed["items"]] == [created["subscription_id"]]
