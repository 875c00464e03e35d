"""Event definitions: loading, merging and validating async_events.xml, and resolving."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import pytest
from flask import Flask

from app.events import (
    APP_DEFINITIONS,
    DefinitionError,
    EventDefinition,
    EventRegistry,
    Passthrough,
    ResolveError,
    get_registry,
    init_app,
)
from app.events.definitions import parse_file

FIXTURES = Path(__file__).parents[1] / "fixtures" / "definitions"
PASS = '<service class="app.events.Passthrough" method="resolve"/>'
CORPUS_EVENTS = [
    "example.event",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "sales.order.created",
    "sales.invoice.created",
    "shipment.created",
    "shipment.updated",
    "shipment.deleted",
]
HERE = __name__  # resolver classes below are referenced by this module's import name


# Resolver classes that the definitions under test point at.
class Customers:
    def get(self, customer_id: int, store_id: int = 0) -> dict:
        return {"id": customer_id, "store_id": store_id}


@dataclasses.dataclass
class Order:
    id: int
    lines: list[str]


class Model:
    def model_dump(self) -> dict:
        return {"kind": "model"}


class Results:
    def order(self, id: int) -> Order:
        return Order(id, ["sku-1"])

    def orders(self) -> tuple:
        return (Order(1, []), Model(), 3)

    def failing(self, id: int) -> None:
        raise KeyError(f"order {id} does not exist")

    def opaque(self) -> object:
        return object()

    def nan(self) -> float:
        return math.nan

    def everything(self, first: str, **rest: object) -> dict:
        return {"first": first, **rest}


class WithAttribute:
    value = 3


class NeedsArgument:
    def __init__(self, dependency: object) -> None:
        self.dependency = dependency

    def get(self) -> None:
        return None


def write(directory: Path, body: str, name: str = "async_events.xml") -> str:
    """Write a definitions file and return its path as the loader reports it."""
    path = directory / name
    path.write_text(body)
    return str(path)


def event(name: str, class_path: str = "app.events.Passthrough", method: str = "resolve") -> str:
    service = f'<service class="{class_path}" method="{method}"/>'
    return f'<async_event name="{name}">{service}</async_event>'


def config(*events: str) -> str:
    return f"<config>{''.join(events)}</config>"


def registry_of(*events: str) -> EventRegistry:
    return EventRegistry(
        EventDefinition(name, f"{HERE}.{cls}", method)
        for name, cls, method in (spec.split() for spec in events)
    )


def bare_app(definitions: list[str]) -> Flask:
    app = Flask(__name__)
    app.config["ASYNC_EVENTS_DEFINITIONS"] = definitions
    init_app(app)
    return app


# Loading and merging.


def test_shipped_definitions_load_with_the_corpus_events():
    app = bare_app([])
    with app.app_context():
        registry = get_registry()
    for name in CORPUS_EVENTS:
        assert registry.get(name).class_path == "app.events.Passthrough"
    assert "timezone.lookup" in registry
    assert registry.names() == sorted(registry.names())
    assert len(registry) == len(registry.names())
    assert registry.get("example.event").source.startswith(f"{APP_DEFINITIONS}:")


def test_later_file_wins_and_globs_load_sorted(tmp_path):
    lookup = event("example.event", "app.events.examples.Timezones", "lookup")
    first = write(tmp_path, config(lookup), "first.xml")
    conf = tmp_path / "conf.d" / "deep"
    conf.mkdir(parents=True)
    write(conf, config(event("only.in.glob"), event("a.b", f"{HERE}.Customers", "get")), "10.xml")
    write(conf, config(event("a.b", f"{HERE}.Results", "order")), "20.xml")
    app = bare_app([first, str(tmp_path / "conf.d" / "**" / "*.xml")])
    registry = app.extensions["async_events"]
    assert registry.get("example.event").method == "lookup"  # overrides the shipped file
    assert registry.get("a.b").source == f"{conf / '20.xml'}:1"  # 20 sorts after 10
    assert "only.in.glob" in registry and "customer.created" in registry


def test_pattern_matching_nothing_names_it(tmp_path):
    pattern = str(tmp_path / "missing" / "*.xml")
    with pytest.raises(DefinitionError, match="no definition file matches") as caught:
        bare_app([pattern])
    assert caught.value.path == pattern and str(caught.value).startswith(f"{pattern}: ")


def test_broken_file_stops_init_app(tmp_path):
    path = write(tmp_path, config("\n", event("x", "app.events.Missing")))
    with pytest.raises(DefinitionError, match=f"^{path}:2: unknown class 'app.events.Missing'$"):
        bare_app([path])


def test_magento_style_file_with_resources_and_comments_loads():
    (definition,) = parse_file(str(FIXTURES / "magento_style.xml"))
    assert definition == EventDefinition(
        "sales.order.created",
        "app.events.Passthrough",
        "resolve",
        ("Magento_Sales::sales", "Magento_Sales::actions_view"),
        f"{FIXTURES / 'magento_style.xml'}:7",
    )


def test_names_are_case_sensitive(tmp_path):
    body = config(event("Order.Created", f"{HERE}.Results", "order"), event("order.created"))
    registry = EventRegistry.from_files([write(tmp_path, body)])
    assert registry.names() == ["Order.Created", "order.created"]
    assert registry.resolve("Order.Created", {"id": 7}) == {"id": 7, "lines": ["sku-1"]}
    assert registry.resolve("order.created", {"id": 7}) == {"id": 7}
    assert "ORDER.CREATED" not in registry and registry.get("ORDER.CREATED") is None


# Validation: every problem names the file and line.

ERRORS = [
    ("root", "<?xml version='1.0'?>\n<events/>", 2, "root is <events>, expected <config>"),
    (
        "no-name",
        f"<config>\n<async_event>{PASS}</async_event>\n</config>",
        2,
        "<async_event> is missing attribute 'name'",
    ),
    (
        "bad-name",
        f'<config>\n\n<async_event name="a b!">{PASS}</async_event></config>',
        3,
        "invalid event name 'a b!': use only letters, digits, '.', '_', '-'",
    ),
    (
        "empty-name",
        f'<config>\n<async_event name="">{PASS}</async_event></config>',
        2,
        "invalid event name '': use only letters, digits, '.', '_', '-'",
    ),
    (
        "duplicate",
        f"<config>\n{event('a.b')}\n\n{event('a.b')}\n</config>",
        4,
        "duplicate event 'a.b', first on line 2",
    ),
    (
        "no-service",
        '<config>\n<async_event name="a.b">\n</async_event></config>',
        2,
        "event 'a.b' has no <service>",
    ),
    (
        "two-services",
        f'<config>\n<async_event name="a.b">\n{PASS}\n{PASS}\n</async_event></config>',
        4,
        "event 'a.b' has more than one <service>",
    ),
    (
        "two-resources",
        f'<config><async_event name="a.b">{PASS}\n<resources><resource>r</resource>'
        "</resources>\n<resources/></async_event></config>",
        3,
        "event 'a.b' has more than one <resources>",
    ),
    (
        "no-class",
        '<config><async_event name="a.b">\n<service method="resolve"/></async_event></config>',
        2,
        "<service> of event 'a.b' is missing attribute 'class'",
    ),
    (
        "no-method",
        '<config><async_event name="a.b">\n\n<service class="app.events.Passthrough"/>'
        "</async_event></config>",
        3,
        "<service> of event 'a.b' is missing attribute 'method'",
    ),
    (
        "unknown-module",
        f"<config>\n{event('a.b', 'no_such_pkg.mod.Thing')}</config>",
        2,
        "unknown class 'no_such_pkg.mod.Thing'",
    ),
    (
        "unknown-class",
        f"<config>\n{event('a.b', 'app.events.Nothing')}</config>",
        2,
        "unknown class 'app.events.Nothing'",
    ),
    (
        "undotted-class",
        f"<config>\n{event('a.b', 'Passthrough')}</config>",
        2,
        "unknown class 'Passthrough'",
    ),
    (
        "not-a-class",
        f"<config>\n{event('a.b', 'app.events.get_registry')}</config>",
        2,
        "unknown class 'app.events.get_registry'",
    ),
    (
        "no-such-method",
        f"<config>\n{event('a.b', method='nope')}</config>",
        2,
        "class 'app.events.Passthrough' has no method 'nope'",
    ),
    (
        "not-callable",
        f"<config>\n{event('a.b', f'{HERE}.WithAttribute', 'value')}</config>",
        2,
        f"class '{HERE}.WithAttribute' has no method 'value'",
    ),
    (
        "element-in-config",
        f"<config>{event('a.b')}\n<event/></config>",
        2,
        "unexpected element <event> in <config>",
    ),
    (
        "element-in-event",
        f'<config><async_event name="a.b">{PASS}\n<service_typo/></async_event></config>',
        2,
        "unexpected element <service_typo> in <async_event>",
    ),
    (
        "element-in-service",
        '<config><async_event name="a.b">\n<service class="app.events.'
        'Passthrough" method="resolve"><arg/></service></async_event></config>',
        2,
        "unexpected element <arg> in <service>",
    ),
    (
        "attribute",
        f'<config>\n<async_event name="a.b" nmae="x">{PASS}</async_event></config>',
        2,
        "unexpected attribute 'nmae' on <async_event>",
    ),
    (
        "empty-resources",
        f'<config><async_event name="a.b">{PASS}\n<resources/></async_event></config>',
        2,
        "<resources> of event 'a.b' lists no <resource>",
    ),
    (
        "blank-resource",
        f'<config><async_event name="a.b">{PASS}<resources>\n'
        "<resource> </resource></resources></async_event></config>",
        2,
        "empty <resource> in event 'a.b'",
    ),
]  # fmt: skip (a table reads better one case per row)


@pytest.mark.parametrize(
    ("body", "line", "problem"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_invalid_definition_names_file_and_line(tmp_path, body, line, problem):
    path = write(tmp_path, body)
    with pytest.raises(DefinitionError) as caught:
        parse_file(path)
    assert str(caught.value) == f"{path}:{line}: {problem}"
    assert (caught.value.path, caught.value.line, caught.value.problem) == (path, line, problem)


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("", 1),
        ("<config>\n<async_event name='a'>\n</config>", 3),
        ("<config>\n&undef;</config>", 2),
    ],
)
def test_malformed_xml_reports_the_parsers_line(tmp_path, body, line):
    path = write(tmp_path, body)
    with pytest.raises(DefinitionError, match=f"^{path}:{line}: malformed XML: "):
        parse_file(path)


def test_unreadable_file_is_a_definition_error(tmp_path):
    path = str(tmp_path / "absent.xml")
    with pytest.raises(DefinitionError, match=f"^{path}: cannot read file: "):
        parse_file(path)


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_dtds_and_entities_are_rejected_unexpanded(name):
    path = str(FIXTURES / name)
    started = time.monotonic()
    with pytest.raises(DefinitionError) as caught:
        parse_file(path)
    assert str(caught.value) == f"{path}:3: DTDs and entities are not allowed"
    assert "root:" not in str(caught.value) and "lollol" not in str(caught.value)
    assert time.monotonic() - started < 1


def test_dtd_in_utf16_is_rejected(tmp_path):
    path = tmp_path / "utf16.xml"
    body = '<?xml version="1.0" encoding="UTF-16"?>\n\n<!DOCTYPE config [<!ENTITY a "b">]>\n'
    body += "<config/>"
    path.write_bytes(body.encode("utf-16"))
    with pytest.raises(DefinitionError, match=f"^{path}:3: DTDs and entities are not allowed$"):
        parse_file(str(path))


def test_external_dtd_is_rejected(tmp_path):
    doctype = '<!DOCTYPE config SYSTEM "http://127.0.0.1:9/x.dtd">\n'
    path = write(tmp_path, doctype + config(event("a")))
    with pytest.raises(DefinitionError, match=f"^{path}:1: DTDs and entities are not allowed$"):
        parse_file(path)


# Resolving published arguments into payloads.


def test_passthrough_returns_a_copy_of_the_arguments():
    arguments = {"id": 42, "lines": [{"sku": "A"}]}
    payload = Passthrough().resolve(**arguments)
    assert payload == arguments and payload is not arguments
    assert payload["lines"] is not arguments["lines"]
    registry = bare_app([]).extensions["async_events"]
    assert registry.resolve("example.event", {"firstName": "Rey"}) == {"firstName": "Rey"}


def test_camel_case_arguments_map_to_snake_case_parameters():
    registry = registry_of("customer.created Customers get")
    assert registry.resolve("customer.created", {"customerId": 5}) == {"id": 5, "store_id": 0}
    assert registry.resolve("customer.created", {"customer_id": 5, "storeId": 2}) == {
        "id": 5,
        "store_id": 2,
    }


def test_kwargs_resolver_receives_every_argument_as_given():
    registry = registry_of("all Results everything")
    payload = registry.resolve("all", {"first": "a", "customerId": 1})
    assert payload == {"first": "a", "customerId": 1}


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("nope", {}, "unknown event 'nope'"),
        ("c", {"customerId": 1, "colour": "red"}, ": unknown argument 'colour'"),
        ("c", {"storeId": 1}, ": missing argument 'customer_id'"),
        ("c", {"customerId": 1, "customer_id": 2}, ": argument 'customer_id' given twice"),
        ("c", ["customerId"], ": arguments must be an object with string keys"),
        ("n", {}, f": cannot create {HERE}.NeedsArgument: "),
    ],
)
def test_arguments_that_do_not_fit_raise_resolve_error(name, args, message):
    registry = registry_of("c Customers get", "n NeedsArgument get")
    with pytest.raises(ResolveError) as caught:
        registry.resolve(name, args)
    assert message in str(caught.value)
    if name != "nope":
        assert str(caught.value).startswith(f"event '{name}' resolver {HERE}.")


def test_resolver_exception_is_chained():
    registry = registry_of("order.get Results failing")
    with pytest.raises(ResolveError, match="failed: KeyError: 'order 9 does not exist'") as caught:
        registry.resolve("order.get", {"id": 9})
    assert isinstance(caught.value.__cause__, KeyError)


def test_dataclasses_and_models_become_plain_data():
    registry = registry_of("one Results order", "many Results orders")
    assert registry.resolve("one", {"id": 3}) == {"id": 3, "lines": ["sku-1"]}
    payload = registry.resolve("many", {})
    assert payload == [{"id": 1, "lines": []}, {"kind": "model"}, 3]
    json.dumps(payload)


@pytest.mark.parametrize("method", ["opaque", "nan"])
def test_non_json_payload_raises_resolve_error(method):
    registry = registry_of(f"x Results {method}")
    with pytest.raises(ResolveError, match="returned a payload that is not JSON"):
        registry.resolve("x", {})


def test_timezone_example_computes_offset_abbreviation_and_dst():
    registry = bare_app([]).extensions["async_events"]
    summer = registry.resolve(
        "timezone.lookup", {"name": "Europe/Berlin", "at": "2024-07-01T12:00:00Z"}
    )
    assert summer == {
        "name": "Europe/Berlin",
        "local_time": "2024-07-01T14:00:00+02:00",
        "utc_offset": "+02:00",
        "utc_offset_seconds": 7200,
        "abbreviation": "CEST",
        "is_dst": True,
    }
    # A naive instant is UTC; Newfoundland shows a half-hour, negative, standard offset.
    winter = registry.resolve(
        "timezone.lookup", {"name": "America/St_Johns", "at": "2024-01-15T12:00:00"}
    )
    assert winter["local_time"] == "2024-01-15T08:30:00-03:30"
    assert (winter["utc_offset"], winter["abbreviation"], winter["is_dst"]) == (
        "-03:30",
        "NST",
        False,
    )
    now = registry.resolve("timezone.lookup", {"name": "UTC"})
    assert (now["utc_offset"], now["is_dst"]) == ("+00:00", False)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "../../etc/passwd", "zone.tab"])
def test_timezone_example_rejects_unknown_zones(zone):
    registry = bare_app([]).extensions["async_events"]
    with pytest.raises(ResolveError, match=f"LookupError: unknown time zone '{zone}'"):
        registry.resolve("timezone.lookup", {"name": zone})
