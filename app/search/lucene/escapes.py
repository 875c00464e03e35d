"""Escapes: how the classic QueryParser and WildcardQuery read backslashes in query text."""

from __future__ import annotations

from app.search.lucene.ast import QuerySyntaxError

_HEX = "0123456789abcdefABCDEF"


def discard_escape_char(text: str, position: int) -> str:
    """QueryParserBase.discardEscapeChar: ``\\x`` is ``x``.

    ``\\u`` followed by four hex digits is that UTF-16 code unit.

    ``position`` is where ``text`` starts in the query, for error messages.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
        elif i + 1 == len(text):
            raise QuerySyntaxError("a term cannot end with the escape character '\\'", position + i)
        elif text[i + 1] == "u":
            out.append(_unicode_escape(text, i, position))
            i += 6
        else:
            out.append(text[i + 1])
            i += 2
    return _join_surrogates("".join(out))


def _unicode_escape(text: str, i: int, position: int) -> str:
    digits = text[i + 2 : i + 6]
    bad = next((c for c in digits if c not in _HEX), None)
    if bad is not None:
        where = position + i + 2 + digits.index(bad)
        raise QuerySyntaxError(f"non-hex character {bad!r} in a \\u escape", where)
    if len(digits) < 4:
        raise QuerySyntaxError("truncated \\u escape sequence", position + i)
    return chr(int(digits, 16))


def _join_surrogates(text: str) -> str:
    # Java strings are UTF-16: \ud83d\ude00 is one character there, and should be here.
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def wildcard_pattern(image: str) -> str:
    """A wildcard token as the AST's pattern: escapes resolved, except ``\\*``, ``\\?``, ``\\\\``.

    The oracle hands the raw token to WildcardQuery, whose only escape rule is that a
    backslash makes the next character literal (so ``\\u0041`` is ``u0041`` there).
    """
    out: list[str] = []
    i = 0
    while i < len(image):
        char = image[i]
        if char == "\\" and i + 1 < len(image):
            following = image[i + 1]
            out.append("\\" + following if following in "*?\\" else following)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)
