"""Lucene: parse an operator's query text into the search AST, exactly as the oracle does.

The reference is shared/search/LuceneOracle.java: Lucene 8.7's classic QueryParser
(default operator OR, leading wildcards allowed, splitOnWhitespace=false) with the
oracle's overrides, after its ``esRanges`` rewrite of ``field:>v`` into a range.

This is our own lexer and grammar modelled on QueryParser.jj (``app.search.lucene.lexer``,
``app.search.lucene.grammar``, ``app.search.lucene.builders``), not luqum: luqum tokenises a
different language, and no walk over its tree recovers what it lost. Checked against
the oracle: ``a && b`` is three words to luqum, ``a + b`` is ``a +b`` (Lucene: the
term ``+``), ``a!b`` one word (Lucene: ``a NOT b``), ``a^ 2`` parses (Lucene: a
lexical error), ``["a"b TO c]`` fails. And with splitOnWhitespace=false Lucene hands
a run of two or more plain terms to getFieldQuery as one text (QueryParser.jj's
MultiTerm), so ``leave at door`` is the one value "leave at door", while ``a b^2``,
``a b:c``, ``a b*`` or ``a "b"`` stay separate clauses; regrouping luqum's
UnknownOperation into such runs would need Lucene's token rules all the same.
``tests/search/lucene/test_lucene_oracle.py`` checks the parser against the oracle.
"""

from __future__ import annotations

import re

from app.search.lucene.ast import Query, QuerySyntaxError
from app.search.lucene.grammar import Parser
from app.search.lucene.lexer import tokenize

# LuceneOracle.esRanges. Java's \s is ASCII whitespace only, so it is spelled out.
_JAVA_SPACE = "[ \t\n\x0b\f\r]"
_ES_RANGE = re.compile(
    rf'(?<=:){_JAVA_SPACE}*(>=|<=|>|<){_JAVA_SPACE}*("[^"]*"|[^ \t\n\x0b\f\r()]+)'
)
_ES_RANGE_FORMS = {">=": ("[", " TO *]"), ">": ("{", " TO *]"), "<=": ("[* TO ", "]")}
_ES_RANGE_FORMS["<"] = ("[* TO ", "}")


def parse(text: str) -> Query:
    """The AST of ``text``; raises QuerySyntaxError (with the offset in ``text``) otherwise.

    Fuzzy terms (``abc~``) and regular expressions (``/ab+/``) raise too: the oracle
    reports them as parse errors, and no backend implements them.
    """
    rewritten, origin = es_ranges(text)
    try:
        return Parser(tokenize(rewritten)).top_level_query()
    except QuerySyntaxError as error:
        where = None if error.position is None else origin[error.position]
        raise QuerySyntaxError(error.message, where) from None
    except RecursionError:  # hundreds of nested parentheses: a 400, not a crash
        raise QuerySyntaxError("the query nests parentheses too deeply") from None


def es_ranges(text: str) -> tuple[str, list[int]]:
    """Elasticsearch's ``field:>=v`` forms as ranges, and each output offset's origin.

    The rewrite is textual, as in the oracle: it applies after any colon, even one
    inside quotes. ``origin`` has one entry per output character plus one for the end.
    """
    out: list[str] = []
    origin: list[int] = []
    done = 0
    for match in _ES_RANGE.finditer(text):
        out.append(text[done : match.start()])
        origin += range(done, match.start())
        opening, closing = _ES_RANGE_FORMS[match.group(1)]
        out += [opening, match.group(2), closing]
        origin += [match.start(1)] * len(opening)  # an error in the brackets: at the operator
        origin += range(match.start(2), match.end(2))
        origin += [match.end()] * len(closing)
        done = match.end()
    out.append(text[done:])
    origin += range(done, len(text) + 1)
    return "".join(out), origin
