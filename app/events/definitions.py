"""Parse and validate one ``async_events.xml`` file into event definitions.

The schema is the original's ``async_events.xsd``. Every problem is a ``DefinitionError``
naming the file and line, so a broken file stops start-up with an actionable message.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

NAME_PATTERN = re.compile(r"[a-zA-Z0-9._-]+")
# Magento files carry xsi:noNamespaceSchemaLocation on the root; accept it, ignore it.
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
# A DOCTYPE can only follow the XML declaration, whitespace, comments and PIs.
_DOCTYPE = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL)
_NO_DTD = "DTDs and entities are not allowed"


class DefinitionError(Exception):
    """A definition file is unusable; ``str()`` is ``"path:line: problem"``."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}" if line is not None else f"{path}: {problem}")
        self.path, self.line, self.problem = path, line, problem


@dataclass(frozen=True)
class EventDefinition:
    """One event: the resolver ``class_path.method`` and the resources it requires."""

    name: str
    class_path: str
    method: str
    resources: tuple[str, ...] = ()
    source: str = ""


def parse_file(path: str) -> list[EventDefinition]:
    """Return the definitions of one file in document order; raise ``DefinitionError``."""
    root = _parse_safely(path)
    if root.tag != "config":
        raise DefinitionError(path, root.sourceline, f"root is <{root.tag}>, expected <config>")
    first_line: dict[str, int] = {}
    definitions = []
    for element in _children(path, root, {"async_event"}):
        definition = _parse_event(path, element)
        if definition.name in first_line:
            problem = (
                f"duplicate event {definition.name!r}, first on line {first_line[definition.name]}"
            )
            raise DefinitionError(path, element.sourceline, problem)
        first_line[definition.name] = element.sourceline
        definitions.append(definition)
    return definitions


def import_class(class_path: str) -> type:
    """Import ``package.module.ClassName``; raise ``LookupError`` saying why it can't be."""
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name or not class_name:
        raise LookupError(f"unknown class {class_path!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # A missing dependency of an existing module is a different fault than a typo.
        if not exc.name or not (module_name + ".").startswith(exc.name + "."):
            raise LookupError(f"cannot import class {class_path!r}: {exc}") from exc
        raise LookupError(f"unknown class {class_path!r}") from exc
    except Exception as exc:  # e.g. "a..B", or a module that raises while importing
        raise LookupError(f"cannot import class {class_path!r}: {exc}") from exc
    found = getattr(module, class_name, None)
    if not inspect.isclass(found):
        raise LookupError(f"unknown class {class_path!r}")
    return found


def _parse_safely(path: str) -> etree._Element:
    """Parse without ever loading a DTD or expanding an entity (XXE, billion laughs)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DefinitionError(path, None, f"cannot read file: {exc.strerror}") from exc
    # Refuse before parsing, so libxml2 never even reads the internal subset.
    prolog = _DOCTYPE.match(data)
    if prolog:
        raise DefinitionError(path, prolog[0].count(b"\n") + 1, _NO_DTD)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DefinitionError(path, exc.lineno, f"malformed XML: {exc.msg}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None:  # a DOCTYPE in an encoding the byte regex can't see
        text = data.decode(docinfo.encoding, errors="replace")
        raise DefinitionError(path, text[: text.find("<!DOCTYPE")].count("\n") + 1, _NO_DTD)
    return root


def _parse_event(path: str, element: etree._Element) -> EventDefinition:
    """Validate one ``<async_event>`` and build its definition."""
    line = element.sourceline
    found: dict[str, list[etree._Element]] = {"service": [], "resources": []}
    for child in _children(path, element, set(found), {"name"}):
        found[child.tag].append(child)
    name = element.get("name")
    if name is None:
        raise DefinitionError(path, line, "<async_event> is missing attribute 'name'")
    if not NAME_PATTERN.fullmatch(name):
        problem = f"invalid event name {name!r}: use only letters, digits, '.', '_', '-'"
        raise DefinitionError(path, line, problem)
    if not found["service"]:
        raise DefinitionError(path, line, f"event {name!r} has no <service>")
    for tag, children in found.items():
        if len(children) > 1:
            problem = f"event {name!r} has more than one <{tag}>"
            raise DefinitionError(path, children[1].sourceline, problem)
    class_path, method = _parse_service(path, name, found["service"][0])
    resources = _parse_resources(path, name, found["resources"])
    return EventDefinition(name, class_path, method, resources, f"{path}:{line}")


def _parse_service(path: str, name: str, element: etree._Element) -> tuple[str, str]:
    """Return ``(class, method)`` of a ``<service>``, checking that both really exist."""
    _children(path, element, set(), {"class", "method"})
    for attribute in ("class", "method"):
        if element.get(attribute) is None:
            problem = f"<service> of event {name!r} is missing attribute {attribute!r}"
            raise DefinitionError(path, element.sourceline, problem)
    class_path, method = element.get("class"), element.get("method")
    try:
        cls = import_class(class_path)
    except LookupError as exc:
        raise DefinitionError(path, element.sourceline, str(exc)) from exc
    if not callable(getattr(cls, method, None)):
        problem = f"class {class_path!r} has no method {method!r}"
        raise DefinitionError(path, element.sourceline, problem)
    return class_path, method


def _parse_resources(path: str, name: str, elements: list[etree._Element]) -> tuple[str, ...]:
    """Return the names in an optional ``<resources>``, which must list at least one."""
    if not elements:
        return ()
    resources = []
    for element in _children(path, elements[0], {"resource"}):
        _children(path, element, set())
        if not (element.text or "").strip():
            raise DefinitionError(path, element.sourceline, f"empty <resource> in event {name!r}")
        resources.append(element.text.strip())
    if not resources:
        problem = f"<resources> of event {name!r} lists no <resource>"
        raise DefinitionError(path, elements[0].sourceline, problem)
    return tuple(resources)


def _children(
    path: str, element: etree._Element, tags: Collection[str], attributes: Collection[str] = ()
) -> list[etree._Element]:
    """Return the child elements, rejecting elements and attributes the schema lacks."""
    for attribute in element.attrib:
        if attribute not in attributes and not attribute.startswith(_XSI):
            problem = f"unexpected attribute {attribute!r} on <{element.tag}>"
            raise DefinitionError(path, element.sourceline, problem)
    children = [child for child in element if isinstance(child.tag, str)]  # skip comments
    for child in children:
        if child.tag not in tags:
            problem = f"unexpected element <{child.tag}> in <{element.tag}>"
            raise DefinitionError(path, child.sourceline, problem)
    return children
