"""The instance folder: files the app keeps beside its embedded database, secrets first."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask


def instance_secret(app: Flask, name: str, fresh: str) -> str:
    """Return a secret kept in instance/, creating it once with owner-only permissions."""
    path = Path(app.instance_path) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(fresh)
    return fresh
