"""Event definitions: load ``async_events.xml`` files into the app's ``EventRegistry``.

The app's own ``app/events/async_events.xml`` loads first, then every path or glob in
``ASYNC_EVENTS_DEFINITIONS`` in order; a later file's definition of a name wins. Any
problem raises ``DefinitionError`` with file and line, so the app refuses to start.

May import: ``app.db``, ``app.settings`` and ``app.models``; the delivery engine reads the
definitions at fan-out.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from flask import Flask, current_app

from app.events.definitions import DefinitionError, EventDefinition
from app.events.passthrough import Passthrough
from app.events.registry import EventRegistry, ResolveError

__all__ = [
    "APP_DEFINITIONS",
    "DefinitionError",
    "EventDefinition",
    "EventRegistry",
    "Passthrough",
    "ResolveError",
    "definition_paths",
    "get_registry",
    "init_app",
]

APP_DEFINITIONS = str(Path(__file__).with_name("async_events.xml"))


def init_app(app: Flask) -> None:
    """Load and validate every definition file and store the registry on ``app``."""
    patterns = app.config.get("ASYNC_EVENTS_DEFINITIONS") or []
    paths = [APP_DEFINITIONS, *definition_paths(patterns)]
    app.extensions["async_events"] = EventRegistry.from_files(paths)


def get_registry() -> EventRegistry:
    """Return the event registry of the current app."""
    try:
        return current_app.extensions["async_events"]
    except KeyError:
        raise RuntimeError("app.events.init_app(app) has not been called") from None


def definition_paths(patterns: list[str] | str) -> list[str]:
    """Expand paths and globs (``**`` recurses) into files, in order, sorted per pattern.

    A pattern that matches no file is a ``DefinitionError``: a typo in the setting
    must not silently drop events.
    """
    if isinstance(patterns, str):  # one pattern set directly, not a list of characters
        patterns = [patterns]
    paths = []
    for pattern in patterns:
        matches = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matches:
            raise DefinitionError(pattern, None, "no definition file matches this path or glob")
        paths.extend(matches)
    return paths
