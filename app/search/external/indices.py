"""Index lifecycle on the cluster: which versions exist, creating them, swapping the alias.

Each event has an alias ``{prefix}_async_event_{event}`` over one live concrete index
``…_v{N}``. A rebuild creates ``…_v{N+1}`` without the alias, fills it, then moves the
alias and deletes the older versions in one ``_aliases`` call, so searches see the old
index or the new one, never both and never neither. While a version newer than the live
one exists without the alias, that event is ``building``: ``flush`` holds its rows
until the swap, because anything written to the old index then would be deleted with it
(and the rebuild reads the database only after creating the new version, so it sees
every row flushed before). These requests are the same on every supported engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from app.search.external import mapping as es_mapping
from app.search.external.transport import ClusterError, Rest

EVERY_INDEX = {"expand_wildcards": "all"}  # hidden concrete indices included


@dataclass
class Layout:
    """The concrete indices of one event key, and which one the alias names."""

    alias: str
    versions: dict[int, str] = field(default_factory=dict)
    live: int | None = None  # the version the alias points at

    @property
    def building(self) -> list[str]:
        """Versions newer than the live one that have no alias yet: a rebuild at work."""
        floor = self.live or 0
        return [name for n, name in sorted(self.versions.items()) if n > floor]

    @property
    def next_version(self) -> int:
        """The version number a new build takes."""
        return max(self.versions, default=0) + 1


def path(*names: str) -> str:
    """A URL path of index names (event names may hold characters a URL reserves)."""
    return "/" + "/".join(quote(name, safe="*,_") for name in names)


def aliases(rest: Rest, prefix: str) -> dict[str, Any]:
    """``{index: {"aliases": {...}}}`` for every index of ours, hidden ones too."""
    pattern = es_mapping.search_pattern(prefix)
    return rest.request("GET", path(pattern, "_alias"), params=EVERY_INDEX) or {}


def layouts(rest: Rest, prefix: str, keys: Iterable[str]) -> dict[str, Layout]:
    """The layout of each key, from one request over every index of ours."""
    found = {key: Layout(es_mapping.alias_name(prefix, key)) for key in keys}
    for index, entry in aliases(rest, prefix).items():
        parsed = es_mapping.parse_version(prefix, index)
        if parsed is None or parsed[0] not in found:
            continue
        key, version = parsed
        found[key].versions[version] = index
        if found[key].alias in entry.get("aliases", {}):
            found[key].live = version
    return found


def create(rest: Rest, name: str, alias: str | None = None) -> None:
    """Create a versioned index with our settings and mapping, with ``alias`` if given.

    Two workers may create the first index of an event at once; the loser finds it made.
    """
    body: dict[str, Any] = {"settings": es_mapping.index_settings(rest.engine)}
    body["mappings"] = es_mapping.mappings()
    if alias is not None:
        body["aliases"] = {alias: {}}
    try:
        rest.request("PUT", path(name), body=body)
    except ClusterError as exc:
        if exc.kind != "resource_already_exists_exception":
            raise


def swap(rest: Rest, layout: Layout, new: str) -> list[str]:
    """Point the alias at ``new`` and delete every other version, atomically; return those."""
    old = [name for name in layout.versions.values() if name != new]
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": layout.alias}}]
    actions += [{"remove_index": {"index": name}} for name in old]
    rest.request("POST", "/_aliases", body={"actions": actions})
    return old


def delete(rest: Rest, names: Iterable[str]) -> None:
    """Delete concrete indices (leftovers of an interrupted rebuild)."""
    names = list(names)
    if names:
        rest.request("DELETE", path(",".join(names)))


def bulk(rest: Rest, operations: list[dict[str, Any]], require_alias: bool) -> list[str | None]:
    """Send a bulk request; per action, None if acknowledged or the error text.

    Deleting a document that is already gone counts as acknowledged.
    """
    if not operations:
        return []
    params = {"require_alias": "true" if require_alias else "false"}
    response = rest.request("POST", "/_bulk", params=params, lines=operations)
    return [_item_error(item) for item in response["items"]]


def _item_error(item: dict[str, Any]) -> str | None:
    ((action, result),) = item.items()
    status = int(result.get("status", 500))
    if status < 300 or (action == "delete" and status == 404 and "error" not in result):
        return None
    error = result.get("error", {})
    if isinstance(error, dict):
        return f"{status} {error.get('type', 'error')}: {error.get('reason', '')}"
    return f"{status} {error}"
