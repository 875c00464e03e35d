"""Elasticsearch index lifecycle: which versions exist, creating them, swapping the alias.

Each event has an alias ``{prefix}_async_event_{event}`` over one live concrete index
``…_v{N}``. A rebuild creates ``…_v{N+1}`` without the alias, fills it, then moves the
alias and deletes the older versions in one ``_aliases`` call, so searches see the old
index or the new one, never both and never neither. While a version newer than the live
one exists without the alias, that event is ``building``: ``flush`` holds its rows
until the swap, because anything written to the old index then would be deleted with it
(and the rebuild reads the database only after creating the new version, so it sees
every row flushed before).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch

from app.search.elasticsearch import mapping as es_mapping


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


def layouts(client: Elasticsearch, prefix: str, keys: Iterable[str]) -> dict[str, Layout]:
    """The layout of each key, from one request over every index of ours, hidden ones too."""
    found = {key: Layout(es_mapping.alias_name(prefix, key)) for key in keys}
    response = client.indices.get_alias(
        index=es_mapping.search_pattern(prefix), expand_wildcards="all"
    )
    for index, entry in response.body.items():
        parsed = es_mapping.parse_version(prefix, index)
        if parsed is None or parsed[0] not in found:
            continue
        key, version = parsed
        found[key].versions[version] = index
        if found[key].alias in entry.get("aliases", {}):
            found[key].live = version
    return found


def create(client: Elasticsearch, name: str, alias: str | None = None) -> None:
    """Create a versioned index with our settings and mapping, with ``alias`` if given.

    Two workers may create the first index of an event at once; the loser finds it made.
    """
    body: dict[str, Any] = {"settings": es_mapping.index_settings()}
    body["mappings"] = es_mapping.mappings()
    if alias is not None:
        body["aliases"] = {alias: {}}
    try:
        client.indices.create(index=name, **body)
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


def swap(client: Elasticsearch, layout: Layout, new: str) -> list[str]:
    """Point the alias at ``new`` and delete every other version, atomically; return those."""
    old = [name for name in layout.versions.values() if name != new]
    actions: list[dict[str, Any]] = [{"add": {"index": new, "alias": layout.alias}}]
    actions += [{"remove_index": {"index": name}} for name in old]
    client.indices.update_aliases(actions=actions)
    return old


def delete(client: Elasticsearch, names: Iterable[str]) -> None:
    """Delete concrete indices (leftovers of an interrupted rebuild)."""
    names = list(names)
    if names:
        client.indices.delete(index=",".join(names))


def bulk(
    client: Elasticsearch, operations: list[dict[str, Any]], require_alias: bool
) -> list[str | None]:
    """Send a bulk request; per action, None if acknowledged or the error text.

    Deleting a document that is already gone counts as acknowledged.
    """
    if not operations:
        return []
    response = client.bulk(operations=operations, require_alias=require_alias)
    return [_item_error(item) for item in response.body["items"]]


def _item_error(item: dict[str, Any]) -> str | None:
    ((action, result),) = item.items()
    status = int(result.get("status", 500))
    if status < 300 or (action == "delete" and status == 404 and "error" not in result):
        return None
    error = result.get("error", {})
    if isinstance(error, dict):
        return f"{status} {error.get('type', 'error')}: {error.get('reason', '')}"
    return f"{status} {error}"
