"""Hypothesis strategies: Lucene queries over the fields and values of gen_corpus.py.

Values come from ``lucene_values`` (the corpus generator's vocabulary), so most
generated queries match something; a few clauses are deliberately malformed so that
parse errors are compared with the oracle's too. Queries never contain line breaks
(the oracle reads one query per line).
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.search.lucene.lucene_values import (
    JUNK,
    NUMBERS,
    OBJECTS,
    bound,
    escape,
    pattern,
    value,
    words,
)


@st.composite
def leaf(draw: st.DrawFn) -> str:
    """One field clause: a value, a pattern, a range, ``>=`` form, exists, or match-all."""
    field = draw(st.sampled_from(sorted(set(words()) | set(NUMBERS))))
    kind = draw(st.sampled_from(["value"] * 5 + ["pattern", "range", "range", "es", "exists"]))
    # Field names may be escaped too: data\.type and data\u002etype are data.type.
    escaped = [field.replace(".", "\\."), field.replace(".", "\\u002e", 1)]
    name = draw(st.sampled_from([field] * 8 + [*escaped, field.upper()]))
    if kind == "pattern" and field in words():
        return f"{name}:{draw(pattern(field))}"
    if kind == "range":
        return f"{name}:{draw(brackets(field))}"
    if kind == "es":
        operator = draw(st.sampled_from([">", ">=", "<", "<=", " >= ", ">= "]))
        return f"{name}:{operator}{draw(bound(field)).replace('*', '1')}"
    if kind == "exists":
        path = draw(st.sampled_from([field, *OBJECTS]))
        return draw(st.sampled_from([f"_exists_:{path}", f"{path}:*"]))
    return f"{name}:{draw(value(field))}"


@st.composite
def brackets(draw: st.DrawFn, field: str) -> str:
    """``[low TO high]`` with any mix of inclusive and exclusive ends."""
    low, high = draw(bound(field)), draw(bound(field))
    opening, closing = draw(st.sampled_from(["[", "{"])), draw(st.sampled_from(["]", "}"]))
    return f"{opening}{low} TO {high}{closing}"


@st.composite
def bare(draw: st.DrawFn) -> str:
    """A clause without a field: a value, a run of plain words, a pattern, ``*`` or junk."""
    field = draw(st.sampled_from(sorted(words())))
    kind = draw(st.sampled_from(["value"] * 2 + ["run"] * 2 + ["pattern", "star", "junk", "range"]))
    if kind == "run":
        phrase = draw(st.sampled_from([w for ws in words().values() for w in ws if " " in w]))
        return " ".join(escape(w) for w in phrase.split(" ") if w)
    if kind == "pattern":
        return draw(pattern(field))
    if kind == "star":
        return draw(st.sampled_from(["*", "*:*", "_all:*", "**", "_all:ok", "*:ok"]))
    if kind == "range":
        return draw(brackets(draw(st.sampled_from(["log_id", "data.data.status"]))))
    if kind == "junk":
        return draw(st.sampled_from(JUNK))
    return draw(value(field))


@st.composite
def clause(draw: st.DrawFn, depth: int) -> str:
    """A leaf or bare clause, a group, or a field group ``f:(a OR b)``, maybe boosted."""
    kind = draw(st.sampled_from(["leaf"] * 5 + ["bare"] * 2 + ["group", "field"] * depth))
    if kind == "group":
        text = f"({draw(query(depth - 1))})"
    elif kind == "field":
        field = draw(st.sampled_from(sorted(words())))
        inner = draw(st.lists(value(field), min_size=1, max_size=3))
        joiner = draw(st.sampled_from([" ", " OR ", " AND ", " || "]))
        text = f"{field}:({joiner.join(inner)})"
    else:
        text = draw(leaf() if kind == "leaf" else bare())
    return text + draw(st.sampled_from([""] * 8 + ["^2", "^0.5"]))


@st.composite
def query(draw: st.DrawFn, depth: int = 2) -> str:
    """A query: clauses with modifiers (+ - NOT !) joined by AND, OR, && or ||, or nothing."""
    parts = []
    for i in range(draw(st.integers(1, 4))):
        conj = draw(st.sampled_from(["", "", "AND ", "OR ", "OR ", "&& ", "|| "])) if i else ""
        modifier = draw(st.sampled_from(["", "", "", "+", "-", "NOT ", "!"]))
        parts.append(conj + modifier + draw(clause(depth)))
    space = draw(st.sampled_from([" "] * 6 + ["  ", "\t", "\u3000"]))
    return space.join(parts)


NOISE = [" ", " ", "\t", "\u3000", "+", "-", "!", "(", ")", ":", "^", "[", "]", '"', "{", "}"]
NOISE += ["~", "*", "?", "\\", "/", "&&", "||", "AND", "OR", "NOT", "TO", "2", "0.5", "ok", "DHL"]
NOISE += ["true", "success", "x", ">", ">=", "<", "<=", "\\u0041", "_exists_", "data", "'", "#"]


@st.composite
def noise(draw: st.DrawFn) -> str:
    """Syntax soup, to check that tokenising and errors agree with Lucene's, edge to edge."""
    return "".join(draw(st.lists(st.sampled_from(NOISE), min_size=1, max_size=12)))


def lucene_queries() -> st.SearchStrategy[str]:
    """Mostly well-formed queries over the corpus, with some syntax soup."""
    return st.one_of(query(), query(), query(), noise())
