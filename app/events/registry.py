"""Hold the merged event definitions and resolve a published event into its payload.

Resolving is the original's consume-time step: instantiate the definition's class,
map the published arguments onto the method's parameters by name (camelCase keys
match snake_case parameters, like Magento's REST input processor), call it, and
convert the result to plain JSON data.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.events.definitions import EventDefinition, import_class, parse_file

_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class ResolveError(Exception):
    """A published event could not be turned into a payload; the message says why."""


class EventRegistry:
    """Event definitions by exact (case-sensitive) name, and their resolvers."""

    def __init__(self, definitions: Iterable[EventDefinition] = ()) -> None:
        """Index ``definitions``; for a repeated name the later definition wins."""
        self._definitions = {definition.name: definition for definition in definitions}
        # One resolver instance per event; a race at first use only builds a spare one.
        self._instances: dict[str, Any] = {}

    @classmethod
    def from_files(cls, paths: Iterable[str]) -> EventRegistry:
        """Load files in order, merging by name so a later file overrides an earlier one."""
        return cls(definition for path in paths for definition in parse_file(path))

    def get(self, name: str) -> EventDefinition | None:
        """Return the definition of ``name``, or None when no file defines it."""
        return self._definitions.get(name)

    def names(self) -> list[str]:
        """Return every defined event name, sorted."""
        return sorted(self._definitions)

    def __contains__(self, name: object) -> bool:
        return name in self._definitions

    def __len__(self) -> int:
        return len(self._definitions)

    def resolve(self, name: str, args: Mapping[str, Any]) -> Any:
        """Call the resolver of ``name`` with ``args`` and return its JSON-ready payload.

        Raises ``ResolveError`` for an unknown event, arguments that don't fit the
        method, any exception the resolver raises (chained), or a result that is not
        JSON-serialisable.
        """
        definition = self._definitions.get(name)
        if definition is None:
            raise ResolveError(f"unknown event {name!r}")
        label = f"event {name!r} resolver {definition.class_path}.{definition.method}"
        method = getattr(self._instance(definition, label), definition.method)
        kwargs = bind_arguments(method, args, label)
        try:
            result = method(**kwargs)
        except Exception as exc:
            raise ResolveError(f"{label} failed: {type(exc).__name__}: {exc}") from exc
        return _json_ready(result, label)

    def _instance(self, definition: EventDefinition, label: str) -> Any:
        """Return the cached resolver object of ``definition``, creating it on first use."""
        if definition.name not in self._instances:
            try:
                self._instances[definition.name] = import_class(definition.class_path)()
            except Exception as exc:
                raise ResolveError(
                    f"{label}: cannot create {definition.class_path}: {exc}"
                ) from exc
        return self._instances[definition.name]


def bind_arguments(
    method: Callable[..., Any], args: Mapping[str, Any], label: str
) -> dict[str, Any]:
    """Map published ``args`` onto ``method``'s parameters by name; raise ``ResolveError``."""
    if not isinstance(args, Mapping) or not all(isinstance(key, str) for key in args):
        raise ResolveError(f"{label}: arguments must be an object with string keys")
    parameters = inspect.signature(method).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(args)
    named = {key: p for key, p in parameters.items() if p.kind in _NAMED}
    kwargs: dict[str, Any] = {}
    for key, value in args.items():
        parameter = key if key in named else snake_case(key)
        if parameter not in named:
            raise ResolveError(f"{label}: unknown argument {key!r}")
        if parameter in kwargs:
            raise ResolveError(f"{label}: argument {parameter!r} given twice")
        kwargs[parameter] = value
    missing = [key for key, p in named.items() if p.default is p.empty and key not in kwargs]
    if missing:
        noun = "argument" if len(missing) == 1 else "arguments"
        raise ResolveError(f"{label}: missing {noun} {', '.join(map(repr, missing))}")
    return kwargs


def snake_case(key: str) -> str:
    """Convert ``customerId`` to ``customer_id`` (and ``storeID`` to ``store_id``)."""
    key = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", key)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()


def _json_ready(result: Any, label: str) -> Any:
    """Convert dataclasses and pydantic-style models, then prove the result is JSON."""
    payload = _plain(result)
    try:
        # NaN and Infinity are not JSON; receivers in other languages would reject them.
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ResolveError(f"{label} returned a payload that is not JSON: {exc}") from exc
    return payload


def _plain(value: Any) -> Any:
    """Return ``value`` as plain data when it is a dataclass, a model, or a list of them."""
    if isinstance(value, type):
        return value
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if callable(getattr(value, "model_dump", None)):
        return value.model_dump()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
