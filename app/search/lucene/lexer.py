"""Lexer: Lucene 8.7 classic QueryParser's tokens, lexical states and longest-match rule.

A transcription of the token section of QueryParser.jj. JavaCC picks, at each position,
the longest match among the current state's token kinds (SKIP included), the kind
defined first on a tie; ``^`` enters the Boost state (only a number, no whitespace
skipping), ``[`` and ``{`` enter the Range state, ``]``/``}`` and the boost number leave
it. The states depend on characters alone, so the whole text is tokenised up front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """A token kind of QueryParser.jj (SKIP is whitespace and never reaches the grammar)."""

    SKIP = "whitespace"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    PLUS = "'+'"
    MINUS = "'-'"
    BAREOPER = "a lone operator"
    LPAREN = "'('"
    RPAREN = "')'"
    COLON = "':'"
    STAR = "'*'"
    CARAT = "'^'"
    QUOTED = "a quoted phrase"
    TERM = "a term"
    FUZZY_SLOP = "'~'"
    PREFIXTERM = "a prefix term"
    WILDTERM = "a wildcard term"
    REGEXPTERM = "a regular expression"
    RANGEIN_START = "'['"
    RANGEEX_START = "'{'"
    NUMBER = "a boost number"
    RANGE_TO = "TO"
    RANGEIN_END = "']'"
    RANGEEX_END = "'}'"
    RANGE_QUOTED = "a quoted range bound"
    RANGE_GOOP = "a range bound"
    EOF = "the end of the query"
    ERROR = "a character no token starts with"


@dataclass(frozen=True)
class Token:
    """One token: its kind, its text as typed (escapes kept) and its offset."""

    kind: Kind
    image: str
    start: int


_WS = "[ \t\n\r\u3000]"
_ESC = r"\\[\s\S]"  # a backslash escapes any one character
_TSC = rf'(?:[^ \t\n\r\u3000+\-!():^\[\]"{{}}~*?\\/]|{_ESC})'
_TC = rf"(?:{_TSC}|[-+])"

_DEFAULT: list[tuple[Kind, str]] = [
    (Kind.SKIP, _WS),
    (Kind.AND, r"AND|&&"),
    (Kind.OR, r"OR|\|\|"),
    (Kind.NOT, r"NOT|!"),
    (Kind.PLUS, r"\+"),
    (Kind.MINUS, r"-"),
    (Kind.BAREOPER, rf"[+\-!]{_WS}"),
    (Kind.LPAREN, r"\("),
    (Kind.RPAREN, r"\)"),
    (Kind.COLON, r":"),
    (Kind.STAR, r"\*"),
    (Kind.CARAT, r"\^"),
    (Kind.QUOTED, rf'"(?:[^"\\]|{_ESC})*"'),
    (Kind.TERM, rf"{_TSC}{_TC}*"),
    (Kind.FUZZY_SLOP, rf"~{_TC}*"),  # the grammar's digit form is a subset of this
    (Kind.PREFIXTERM, rf"\*|{_TSC}{_TC}*\*"),
    (Kind.WILDTERM, rf"(?:{_TSC}|[*?])(?:{_TC}|[*?])*"),
    (Kind.REGEXPTERM, r"/(?:\\/|[^/])*/i?"),
    (Kind.RANGEIN_START, r"\["),
    (Kind.RANGEEX_START, r"\{"),
]
_BOOST: list[tuple[Kind, str]] = [(Kind.NUMBER, r"[0-9]+(?:\.[0-9]+)?")]
_RANGE: list[tuple[Kind, str]] = [
    (Kind.SKIP, _WS),
    (Kind.RANGE_TO, r"TO"),
    (Kind.RANGEIN_END, r"\]"),
    (Kind.RANGEEX_END, r"\}"),
    (Kind.RANGE_QUOTED, r'"'),  # matched by _range_quoted: a regex is not longest-match here
    (Kind.RANGE_GOOP, r"[^ \]}]+"),
]
_STATES = {
    name: [(kind, re.compile(pattern)) for kind, pattern in table]
    for name, table in (("default", _DEFAULT), ("boost", _BOOST), ("range", _RANGE))
}
_NEXT_STATE = {Kind.CARAT: "boost", Kind.RANGEIN_START: "range", Kind.RANGEEX_START: "range"}
_NEXT_STATE |= dict.fromkeys((Kind.NUMBER, Kind.RANGEIN_END, Kind.RANGEEX_END), "default")


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with EOF, or with ERROR where no token fits.

    JavaCC reports a lexical error only when the parser asks for that token, so an
    earlier syntax error wins; the token stream raises when it reaches ERROR.
    """
    tokens: list[Token] = []
    state, pos = "default", 0
    while pos < len(text):
        kind, end = _longest(text, pos, state)
        if kind is None:
            tokens.append(Token(Kind.ERROR, text[pos], pos))
            return tokens
        if kind is not Kind.SKIP:
            tokens.append(Token(kind, text[pos:end], pos))
        state = _NEXT_STATE.get(kind, state)
        pos = end
    tokens.append(Token(Kind.EOF, "", len(text)))
    return tokens


def _longest(text: str, pos: int, state: str) -> tuple[Kind | None, int]:
    """JavaCC's rule: the longest match wins, the earlier-defined kind on a tie."""
    best: tuple[Kind | None, int] = (None, pos)
    for kind, pattern in _STATES[state]:
        if kind is Kind.RANGE_QUOTED:
            end = _range_quoted(text, pos)
        else:
            match = pattern.match(text, pos)
            end = match.end() if match else pos
        if end > best[1]:
            best = (kind, end)
    return best


def _range_quoted(text: str, pos: int) -> int:
    """End of the longest ``"` (~["\\""] | "\\\\\\"")+ `"`` at ``pos``, or ``pos`` if none.

    A backslash may stand alone or escape a quote, so several closing quotes can be
    reachable; JavaCC takes the last one.
    """
    if not text.startswith('"', pos):
        return pos
    reachable, best = {pos + 1}, pos
    for i in range(pos + 1, len(text)):
        if i not in reachable:
            break  # nothing later is reachable either: no quadratic scans on `["""…`
        if text[i] != '"':
            reachable.add(i + 1)
            if text[i] == "\\" and text.startswith('"', i + 1):
                reachable.add(i + 2)
        elif i > pos + 1:  # at least one character inside the quotes
            best = i + 1
    return best
