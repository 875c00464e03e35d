"""Hypothesis strategies for values: words, numbers, patterns and range bounds of gen_corpus.py.

Values come from the corpus generator's own vocabulary (loaded from shared/), so most
generated queries match something. ``lucene_strategies`` builds queries from them.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from types import ModuleType

from hypothesis import strategies as st

from tests.support import shared_dir

SPECIAL = set(' \t\u3000+-!():^[]"{}~*?\\/')
OBJECTS = ["data", "data.data", "data.data.addresses", "data.data.items", "data.nope", "Data"]
NUMBERS = {
    "log_id": (1, 600),
    "subscription_id": (1, 16),
    "data.data.entity_id": (1, 600),
    "data.data.group_id": (0, 4),
    "data.data.items.qty": (1, 5),
    "data.data.items.price": (1, 300),
    "data.data.grand_total": (1, 3000),
    "data.data.order_id": (1, 5000),
    "data.data.weight": (0, 10),
    "data.data.addresses.postcode": (1000, 99999),
    "data.data.store_id": (0, 3),
}
NUMBER_FORMS = ["{}", "{}", "{}.0", "{}.", "\\+{}", "+{}", "{}d", "{}e0", "0{}", "0x{}p0"]
JUNK = ["a~", "a~2", "/x.*/", "(", ")", "a^", "[1 TO]", "\\u00zz", ":", "AND", "f:", '"open']
JUNK += ["a\\", "*:", "x:(", "{1 TO 5", "^2", "a^ 2", "[a TO b TO c]", "~", "x:-y"]


@lru_cache(maxsize=1)
def corpus_generator() -> ModuleType:
    """shared/search/gen_corpus.py as a module, for its vocabulary."""
    path = shared_dir() / "search" / "gen_corpus.py"
    spec = importlib.util.spec_from_file_location("gen_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def words() -> dict[str, list[str]]:
    """Keyword values per field, as the corpus writes them (seed 11 for uuid and created)."""
    g = corpus_generator()
    emails = ["roni_cost@example.com", "john_smith1@gmail.com", "*@example.com"]
    statuses = ["pending", "processing", "complete", "canceled"]
    notes = ["leave at door", "fragile: handle with care", "call on arrival"]
    return {
        "event_name": g.EVENTS,
        "data.type": g.EVENTS,
        "success": ["true", "false"],
        "data.data.is_subscribed": ["true", "false"],
        "response_data": ["OK", "Service Unavailable", "Bad Gateway", "timeout"],
        "data.data.status": statuses,
        "data.data.carrier": ["UPS", "DHL", "fedex", "auspost"],
        "data.data.note": notes,
        "data.data.payment_additional_info.value": g.METHODS,
        "data.data.addresses.city": g.CITIES,
        "data.data.firstname": g.FIRST,
        "data.data.customer_lastname": g.LAST,
        "data.data.items.sku": [f"SKU-{i:03d}" for i in (1, 5, 12, 33, 40)],
        "data.data.customer_email": emails,
        "data.datacontenttype": ["application/json"],
        "data.specversion": ["1.0"],
        "data.data.increment_id": ["CK00000003", "ck00000119", "WEB00000045"],
        "created": ["2026-01-05 01:35:17", "2026-01-02", "2026-02-01T16:19:07"],
        "uuid": ["965eda32-dae4-4550-8201-e2bd73ab4876", "012d0ea6-7ff1-4229-8b4d-8474a3ea284d"],
    }


def escape(text: str) -> str:
    """``text`` as one bare token: every special character escaped, ``-`` and ``+`` too."""
    return "".join("\\" + c if c in SPECIAL else c for c in text)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def recase(draw: st.DrawFn, text: str) -> str:
    """The same value as an operator might type it: as is, lower, upper or mixed case."""
    style = draw(st.sampled_from(["same", "same", "lower", "upper", "swap"]))
    return {"lower": text.lower(), "upper": text.upper(), "swap": text.swapcase()}.get(style, text)


@st.composite
def value(draw: st.DrawFn, field: str) -> str:
    """A value of ``field`` written as a bare token, an escaped token or a phrase."""
    if field in NUMBERS and (field not in words() or draw(st.booleans())):
        low, high = NUMBERS[field]
        number = str(draw(st.integers(low, high)))
        return draw(st.sampled_from(NUMBER_FORMS)).format(number)
    text = draw(recase(draw(st.sampled_from(words()[field]))))
    form = draw(st.sampled_from(["token", "token", "phrase", "unicode"]))
    if form == "phrase" or (form == "token" and " " in text and draw(st.booleans())):
        return quote(text) + draw(st.sampled_from(["", "", "~2", "^3"]))
    if form == "unicode":
        return escape(text).replace("a", "\\u0061", 1)
    return escape(text)


@st.composite
def pattern(draw: st.DrawFn, field: str) -> str:
    """A wildcard or prefix pattern cut from a real value of ``field``."""
    text = escape(draw(recase(draw(st.sampled_from(words()[field])))))
    cut = draw(st.integers(0, len(text)))
    if text[cut - 1 : cut] == "\\":
        cut -= 1
    head = text[:cut]
    kind = draw(st.sampled_from(["prefix", "star", "leading", "question"]))
    if kind == "prefix" or not head:
        return head + "*" if head else "*" + text[cut:]
    if kind == "leading":
        return "*" + text[cut:]
    if kind == "question" and cut < len(text) and text[cut] != "\\":
        return head + "?" + text[cut + 1 :]
    return head + "*" + text[cut + 2 :]


@st.composite
def bound(draw: st.DrawFn, field: str) -> str:
    """A range bound for ``field``: a number, a date, a word, a phrase or ``*``."""
    if draw(st.integers(0, 5)) == 0:
        return "*"
    if field == "created":
        day = draw(st.integers(0, 60))
        date = f"2026-{1 + day // 31:02d}-{1 + day % 31:02d}"
        clock = draw(st.sampled_from(["", " 12:00:00", "T06:30:00"]))
        return quote(date + clock) if clock.startswith(" ") else date + clock
    if field in NUMBERS and draw(st.integers(0, 4)):
        low, high = NUMBERS[field]
        return str(draw(st.integers(low, high)))
    text = draw(st.sampled_from(words().get(field, ["a", "m", "SKU-02"])))
    return quote(text) if draw(st.booleans()) else escape(text.split(" ")[0][:5])
