"""Browser fixtures: the app served on a real port, Debian's Chromium driven by Playwright.

Every test gets ``shot(page, name)``, which saves a full-page screenshot under
``artifacts/screenshots/<test>/`` (or $SCREENSHOT_DIR) for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.extensions import db
from tests.support import ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Browser tests run on SQLite; the services under them are tested on both databases."""
    return request.param


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, served by threads as gunicorn would."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def in_app(app: Flask) -> Callable[[Callable[[], Any]], Any]:
    """Run ``fn`` in a short app context: a context held open would hold SQLite's write lock."""

    def call(fn: Callable[[], Any]) -> Any:
        with app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    return call


@pytest.fixture
def user(in_app) -> Callable[[str], str]:
    """Create a user with a role; returns the username (password: ``PASSWORD``)."""
    from app.usecases import access

    def make(role: str = "admin") -> str:
        in_app(lambda: access.create_user(role, PASSWORD, role=role))
        return role

    return make


@pytest.fixture
def page(browser, live_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """Save a full-page screenshot of ``page`` as ``NN-name.png`` in this test's folder."""
    folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    count = iter(range(1, 1000))

    def save(pg: Any, name: str) -> Path:
        path = folder / f"{next(count):02d}-{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path

    return save


@pytest.fixture
def login(page, user) -> Callable[[str], Any]:
    """Sign in through the login form as a new user with ``role``; returns the page."""

    def sign_in(role: str = "admin") -> Any:
        name = user(role)
        page.goto("/admin/")
        page.fill("#username", name)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))
        return page

    return sign_in


def reload_until(page: Any, check: Callable[[Any], bool], timeout: float = 20.0) -> None:
    """Reload ``page`` until ``check(page)`` holds, as an operator watching it would."""
    deadline = time.monotonic() + timeout
    while not check(page):
        assert time.monotonic() < deadline, f"not seen within {timeout} s"
        time.sleep(0.3)
        page.reload()
