"""parse(): every construct of the classic syntax to its AST, and errors with positions.

Each expectation was read off LuceneOracle's parsed query (its ``toString``).
"""

from __future__ import annotations

import pytest

from app.search.lucene.ast import (
    Bool,
    Clause,
    Exists,
    MatchAll,
    Occur,
    Prefix,
    Query,
    QuerySyntaxError,
    Range,
    Term,
    Wildcard,
)
from app.search.lucene.parser import parse


def must(query: Query) -> Clause:
    return Clause(Occur.MUST, query)


def should(query: Query) -> Clause:
    return Clause(Occur.SHOULD, query)


def must_not(query: Query) -> Clause:
    return Clause(Occur.MUST_NOT, query)


def both(*clauses: Clause) -> Bool:
    return Bool(clauses)


def t(text: str, field: str | None = None) -> Term:
    return Term(field, text)


def everything_but(*queries: Query) -> Bool:
    return Bool((must(MatchAll()), *(must_not(q) for q in queries)))


a, b, c, d = t("a"), t("b"), t("c"), t("d")

BOOLEAN = {
    "a": a,
    "a OR b": both(should(a), should(b)),
    "a b:c": both(should(a), should(t("c", "b"))),
    "a AND b": both(must(a), must(b)),
    "a && b": both(must(a), must(b)),
    "a || b": both(should(a), should(b)),
    "a OR b AND c": both(should(a), must(b), must(c)),
    "a AND b OR c": both(must(a), must(b), should(c)),
    "a OR b OR c AND d": both(should(a), should(b), must(c), must(d)),
    "+a -b": both(must(a), must_not(b)),
    "+a": both(must(a)),
    "a -b": both(should(a), must_not(b)),
    "a NOT b": both(should(a), must_not(b)),
    "a AND NOT b": both(must(a), must_not(b)),
    "NOT a AND b": both(must_not(a), must(b)),
    "NOT a": everything_but(a),
    "!a": everything_but(a),
    "-a": everything_but(a),
    "-a -b": everything_but(a, b),
    "-(-a)": everything_but(everything_but(a)),
    "(a)": a,
    "((a))": a,
    "(a OR b) AND c": both(must(both(should(a), should(b))), must(c)),
    "f:(a OR b)": both(should(t("a", "f")), should(t("b", "f"))),
    "f:(a OR b)^3": both(should(t("a", "f")), should(t("b", "f"))),
    "f:(-a)": everything_but(t("a", "f")),
    "f:(a AND (b OR g:c))": both(
        must(t("a", "f")), must(both(should(t("b", "f")), should(t("c", "g"))))
    ),
    "a!b": both(should(a), must_not(b)),
    "a + b": both(should(a), should(t("+")), should(b)),
    "a - b": both(should(a), should(t("-")), should(b)),
    "a -- b": both(should(a), must_not(t("-")), should(b)),
    "a^2.": both(should(a), should(t("."))),
    "a^2. b": both(should(a), should(t(". b"))),
}

# splitOnWhitespace=false: a run of plain terms reaches getFieldQuery as one text.
MULTI_TERM = {
    "leave at door": t("leave at door"),
    "a\tb\u3000c  d": t("a b c d"),
    "f:(a b)": t("a b", "f"),
    "f:a b": both(should(t("a", "f")), should(b)),
    "a b AND c": both(should(a), must(b), must(c)),
    "x a b AND c": both(should(t("x a")), must(b), must(c)),
    "a AND b c d": both(must(a), must(b), should(t("c d"))),
    "a b:c d e": both(should(a), should(t("c", "b")), should(t("d e"))),
    "a b c^2": both(should(t("a b")), should(c)),
    "a b -c": both(should(t("a b")), must_not(c)),
    "a b *": both(should(a), should(b), should(MatchAll())),
    '"a b" c d': both(should(t("a b")), should(t("c d"))),
    "(a b) c": both(should(t("a b")), should(c)),
    "a ORb c": t("a ORb c"),
    "_exists_:(a b)": Exists("a b"),
}

TERMS = {
    "f:a": t("a", "f"),
    "f: a": t("a", "f"),
    "f :a": t("a", "f"),
    "f:a^2": t("a", "f"),
    "log_id:42": t("42", "log_id"),
    '"a b"': t("a b"),
    '"a b"~2': t("a b"),
    '"a b"~2^3': t("a b"),
    'f:"a\\"b"': t('a"b', "f"),
    '"a\\\\"': t("a\\"),
    "a\\ b": t("a b"),
    "x:a\\ b": t("a b", "x"),
    "a\\:b": t("a:b"),
    "a\\:b:c": t("c", "a:b"),
    "\\u0041bc": t("Abc"),
    "\\ud83d\\ude00": t("\U0001f600"),
    "a\\\\b": t("a\\b"),
    "f:\\*": t("*", "f"),
    "TO": t("TO"),
    "_all:foo": t("foo"),
    "*:foo": t("foo", "*"),
    "*": MatchAll(),
    "*:*": MatchAll(),
    "_all:*": MatchAll(),
    "*^2": MatchAll(),
    "f:*": Exists("f"),
    "f:(*)": Exists("f"),
    "_exists_:data.data": Exists("data.data"),
    '_exists_:"data.data"': Exists("data.data"),
    "_exists_:DATA": Exists("DATA"),
    "abc*": Prefix(None, "abc"),
    "f:abc*": Prefix("f", "abc"),
    "a*~2": Prefix(None, "a"),
    "a\\*b*": Prefix(None, "a*b"),
    "f:\\**": Prefix("f", "*"),
    "_exists_:data*": Prefix("_exists_", "data"),
    "a?c": Wildcard(None, "a?c"),
    "*.created": Wildcard(None, "*.created"),
    "f:*@EXAMPLE.com": Wildcard("f", "*@EXAMPLE.com"),
    "**": Wildcard(None, "**"),
    "a\\*b?": Wildcard(None, "a\\*b?"),
    "a\\:b*c": Wildcard(None, "a:b*c"),
    "a\\u0041?": Wildcard(None, "au0041?"),
    "a?b~": Wildcard(None, "a?b"),
}

RANGES = {
    "f:[a TO b]": Range("f", "a", "b", True, True),
    "f:{a TO b}": Range("f", "a", "b", False, False),
    "f:[a TO b}": Range("f", "a", "b", True, False),
    "f:{a TO b]^2": Range("f", "a", "b", False, True),
    "[1 TO *]": Range(None, "1", None, True, True),
    "f:[* TO *]": Range("f", None, None, True, True),
    'f:["*" TO b]': Range("f", None, "b", True, True),
    "f:[\\* TO b]": Range("f", None, "b", True, True),
    'created:["2026-02-01 00:00:00" TO "2026-02-01 12:00:00"]': Range(
        "created", "2026-02-01 00:00:00", "2026-02-01 12:00:00", True, True
    ),
    'f:["a\\" TO b" TO c]': Range("f", 'a" TO b', "c", True, True),
    'f:["a"b TO c]': Range("f", '"a"b', "c", True, True),
    "f:[TO TO TO]": Range("f", "TO", "TO", True, True),
    "f:[a\\u0041 TO b]": Range("f", "aA", "b", True, True),
    "f:>=5": Range("f", "5", None, True, True),
    "f:>5": Range("f", "5", None, False, True),
    "f:<=5": Range("f", None, "5", True, True),
    "f:<5": Range("f", None, "5", True, False),
    "f: >= 5": Range("f", "5", None, True, True),
    'created:>"2026-01-01 10:00:00"': Range("created", "2026-01-01 10:00:00", None, False, True),
    "created:>now-1h": Range("created", "now-1h", None, False, True),
    "created:[now-7d/d TO now]": Range("created", "now-7d/d", "now", True, True),
    "(f:<5)": Range("f", None, "5", True, False),
    "f:>": t(">", "f"),
}
CASES = BOOLEAN | MULTI_TERM | TERMS | RANGES


@pytest.mark.parametrize(("text", "expected"), CASES.items(), ids=list(CASES))
def test_parse(text: str, expected: Query) -> None:
    assert parse(text) == expected


ERRORS = [
    ("a~2", 1, "fuzzy"),
    ("f:abc~", 5, "fuzzy"),
    ("a^2~1", 3, "fuzzy"),
    ("/ab+/", 0, "regular expressions"),
    ("f:/ab+/i", 2, "regular expressions"),
    ("", 0, "found the end of the query"),
    ("a AND", 5, "found the end of the query"),
    ("AND a", 0, "found 'AND'"),
    ("a OR OR b", 5, "found 'OR'"),
    ("(a", 2, "expected ')'"),
    ("a)", 1, "found ')'"),
    ("()", 1, "found ')'"),
    ("a:b:c", 3, "found ':'"),
    ('"a":b', 3, "found ':'"),
    ("f:-a", 2, "found '-'"),
    ("--a", 1, "found '-'"),
    ("a -", 3, "found the end of the query"),
    ("a\\", 1, "unexpected character '\\\\'"),
    ("a/b", 1, "unexpected character '/'"),
    ("a ]", 2, "unexpected character ']'"),
    ("a^ 2", 2, "unexpected character ' '"),
    ("a^2^3", 3, "found '^'"),
    ("(a)~2", 3, "found '~2'"),
    ("[a TO b]~2", 8, "found '~2'"),
    ("a\\u00zz", 5, "non-hex character 'z'"),
    ("a\\u00zz*", 5, "non-hex character 'z'"),
    ("a\\u004", 1, "truncated"),
    ("[a TO]", 5, "found ']'"),
    ("[a TO b TO c]", 8, "found 'TO'"),
    ("[a\\ TO b]", 2, "cannot end with the escape character"),
    ('"open', 0, "unexpected character '\"'"),
    ("f:>5]", 4, "found ']'"),  # positions point into the text as typed, not the rewrite
    ('"a:>b"', 6, "unexpected character ']'"),  # the rewrite applies inside quotes too
]


@pytest.mark.parametrize(("text", "position", "reason"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_error_says_where_and_why(text: str, position: int, reason: str) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse(text)
    assert raised.value.position == position
    assert reason in raised.value.message
    assert str(raised.value).endswith(f"at position {position}")


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(QuerySyntaxError, match="nests parentheses too deeply"):
        parse("(" * 5000 + "a" + ")" * 5000)
    assert parse("(" * 100 + "a" + ")" * 100) == a


def test_long_pathological_input_parses_quickly() -> None:
    assert parse("[" + '"' * 20000 + " TO b]") == Range(None, '"' * 20000, "b", True, True)


def test_a_group_holds_at_most_1024_clauses_as_in_lucene() -> None:
    assert len(parse(" OR ".join(["ok"] * 1024)).clauses) == 1024
    assert len(parse(" ".join(["-ok"] * 1023)).clauses) == 1024  # with the implied MatchAll
    with pytest.raises(QuerySyntaxError, match="too many clauses") as raised:
        parse("a (" + " ".join(["-ok"] * 1024) + ")")
    assert raised.value.position == 3
