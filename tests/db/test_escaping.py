"""The escaped form of stored text: lossless, marked, and storable by every database."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.db import escaping

# Any code point, with the troublesome ones often: NUL, lone surrogates (U+DC80 to
# U+DCFF are how surrogateescape keeps bytes), a backslash, and the marker itself.
awkward = st.sampled_from(["\x00", "\\", "\ud800", "\udbff", "\udc80", "\udcff", "\U0001f600"])
characters = st.one_of(st.characters(codec=None, categories=None), awkward)
texts = st.one_of(st.text(characters), st.text(characters).map(lambda text: escaping.MARKER + text))


@given(texts)
def test_storable_text_reads_back_exactly(text):
    for form in (escaping.storable, escaping.ascii_storable):
        stored = form(text)
        assert escaping.clean(stored) and escaping.unescape(stored) == text
    assert escaping.ascii_storable(text).isascii()
    if escaping.clean(text) and not text.startswith(escaping.MARKER):
        assert escaping.storable(text) == text  # readable text stays as it is


@given(st.binary())
def test_a_response_body_keeps_its_exact_bytes(body):
    text = body.decode("utf-8", "surrogateescape")  # as the HTTP sink decodes it
    assert escaping.raw_bytes(escaping.storable(text)) == body
    assert escaping.raw_bytes(escaping.ascii_storable(text)) == body


@given(st.recursive(texts, lambda inner: st.dictionaries(texts, inner, max_size=3), max_leaves=8))
def test_stored_json_reads_back_equal(value):
    stored = escaping.storable_json(value)
    assert escaping.clean(stored) and json.loads(stored) == value
    assert json.loads(escaping.ascii_json(stored)) == value


def _nested(depth: int) -> object:
    value: object = "é"
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        _nested(300),  # past orjson's 255 levels (PUBLISH_MAX_DEPTH may allow it): json writes it
        {"n": 2**70, "m": -(2**64)},  # past 64 bits: json writes it
        {"s": "a\ud800b", "k\udc80": 1},  # lone surrogates: the ASCII form
        {"nul": "a\x00b"},
    ],
    ids=["300-deep", "past-64-bits", "lone-surrogates", "nul"],
)
def test_storable_json_takes_what_orjson_refuses(value):
    stored = escaping.storable_json(value)
    assert escaping.clean(stored) and json.loads(stored) == value
