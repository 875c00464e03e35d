"""schemathesis hooks (``SCHEMATHESIS_HOOKS=tests.api.input_hooks``): hostile values in each part.

Schemathesis generates requests from the OpenAPI document, which does not reach what
broke routes before: nesting past the limit, integers beyond 64 bits, Unicode digits, NUL,
lone surrogates, huge strings, JSON that is not JSON. ``flatmap_case`` keeps each generated
case, or spoils one part of it with ``tests/api/input_strategies.py``'s values.

Schemathesis re-validates a spoiled case against the document, and its checks expect a
schema-violating one to be refused. So a spoiled body is either a document (validated as
usual) or bytes that every operation must refuse; spoiled path segments that the document
types as strings are handed over already encoded (``EncodedPath``), so that their bytes
(``%ED%A0%80`` for a lone surrogate) reach the server as sent. ``searchCriteria``, which
the document cannot describe, is fuzzed from its grammar in ``tests/api/test_input_fuzz.py``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import schemathesis
from hypothesis import strategies as st
from schemathesis.core import NOT_SET
from schemathesis.core.parameters import EncodedPath

from tests.api.input_strategies import integers, refused_bodies, spoiled_documents, texts


def _replace(case: Any, **parts: Any) -> Any:
    for name, value in parts.items():
        setattr(case, name, value)
    return case


def _sendable(text: str) -> bool:
    """Text a client can put in a query string as it is: UTF-8 encodable, under the limit
    (a 414 is not among the statuses schemathesis accepts for a schema-violating value)."""
    return len(text) < 10_000 and not any("\ud800" <= c <= "\udfff" for c in text)


def _spoiled_query(case: Any) -> st.SearchStrategy[Any]:
    value = st.one_of(texts().filter(_sendable), integers().map(str))
    spoil = st.tuples(st.sampled_from(sorted(case.query)), value)
    return spoil.map(lambda kv: _replace(case, query={**case.query, kv[0]: kv[1]}))


def _segment(text: str) -> EncodedPath | None:
    """A hostile path segment, encoded; None for one that would change the route instead
    (empty, or ASCII digits, which name a row)."""
    if not text or (text.isascii() and text.isdecimal()):
        return None
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
    # Like _sendable: a request line past 64 KiB gets the HTTP server's own 414, an HTML
    # page sent before the app runs, which schemathesis flags as an undocumented type.
    return EncodedPath(encoded) if len(encoded) < 10_000 else None


def _spoiled_path(case: Any) -> st.SearchStrategy[Any]:
    value = st.one_of(integers(), texts().map(_segment).filter(lambda s: s is not None))
    spoil = st.tuples(st.sampled_from(sorted(case.path_parameters)), value)
    return spoil.map(
        lambda kv: _replace(case, path_parameters={**case.path_parameters, kv[0]: kv[1]})
    )


def _validatable(document: Any) -> bool:
    """Whether schemathesis' validator can take ``document``: it cannot encode lone
    surrogates, which therefore go out only inside ``refused_bodies``' bytes."""
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _spoiled_body(case: Any) -> st.SearchStrategy[Any]:
    template = case.body if isinstance(case.body, dict) else {}
    documents = spoiled_documents(template).filter(_validatable)
    body = st.one_of(documents, refused_bodies(template))
    return body.map(lambda value: _replace(case, body=value))


@schemathesis.hook
def flatmap_case(context: Any, case: Any) -> st.SearchStrategy[Any]:
    """The case as generated, or with one of its query values, path segments or body spoiled."""
    choices = [st.just(case)]
    if case.query:
        choices.append(_spoiled_query(case))
    if case.path_parameters:
        choices.append(_spoiled_path(case))
    if case.body is not NOT_SET:
        choices.append(_spoiled_body(case))
    return st.one_of(choices)
