"""The fake cluster's HTTPS certificates: ``tests.tls``'s, made once per test process."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from tests.tls import Certificates, issue


@cache
def certificates() -> Certificates:
    """The process's CA and server certificate (made on first use)."""
    return issue(Path(tempfile.mkdtemp(prefix="fake-es-tls-")), "Fake search CA")
