"""Grammar: the productions of Lucene 8.7's QueryParser.jj as a recursive-descent parser.

Query, Clause, Term and MultiTerm follow the .jj file rule by rule, LOOKAHEADs included,
with splitOnWhitespace=false (the default): a run of two or more plain terms is one
text, ``leave at door`` is one value. Builders (``app.search.lucene.builders``) make the nodes.
"""

from __future__ import annotations

from app.search.lucene import builders as b
from app.search.lucene.ast import Query
from app.search.lucene.escapes import discard_escape_char
from app.search.lucene.lexer import Kind, Token
from app.search.lucene.stream import TokenStream

_BARE = {Kind.TERM, Kind.STAR, Kind.PREFIXTERM, Kind.WILDTERM, Kind.REGEXPTERM, Kind.NUMBER}
_TERM_START = _BARE | {Kind.BAREOPER, Kind.QUOTED, Kind.RANGEIN_START, Kind.RANGEEX_START}
_LOOP_START = _TERM_START | {Kind.LPAREN, Kind.AND, Kind.OR, Kind.NOT, Kind.PLUS, Kind.MINUS}
_NOT_AFTER_MULTITERM = {Kind.COLON, Kind.STAR, Kind.FUZZY_SLOP, Kind.CARAT, Kind.AND, Kind.OR}
_RANGE_START = (Kind.RANGEIN_START, Kind.RANGEEX_START)
_RANGE_END = (Kind.RANGEIN_END, Kind.RANGEEX_END)
_BOUND = (Kind.RANGE_GOOP, Kind.RANGE_QUOTED, Kind.RANGE_TO)
_CONJ = {Kind.AND: b.Conj.AND, Kind.OR: b.Conj.OR}
_MOD = {Kind.PLUS: b.Mod.REQ, Kind.MINUS: b.Mod.NOT, Kind.NOT: b.Mod.NOT}


class Parser(TokenStream):
    """One parse of one token list."""

    def top_level_query(self) -> Query:
        """TopLevelQuery: a Query, then the end of the text."""
        query = self.query(b.DEFAULT_FIELD)
        self.expect(Kind.EOF)
        return query

    def query(self, field: str) -> Query:
        """Query: clauses joined by conjunctions; one unmodified clause is returned as is."""
        clauses: list[b.PendingClause] = []
        start = self.peek().start
        if self.multi_term_ahead():
            first: Query | None = self.multi_term(field, clauses)
        else:
            first = self.modified_clause(field, clauses, b.Conj.NONE)
        while self.multi_term_ahead() or self.peek().kind in _LOOP_START:
            if self.multi_term_ahead():
                self.multi_term(field, clauses)
                continue
            conj = _CONJ.get(self.peek().kind, b.Conj.NONE)
            if conj is not b.Conj.NONE:
                self.pos += 1
            self.modified_clause(field, clauses, conj)
        if len(clauses) == 1 and first is not None:
            return first
        return b.boolean_query(clauses, start)

    def modified_clause(
        self, field: str, clauses: list[b.PendingClause], conj: b.Conj
    ) -> Query | None:
        """Modifiers() Clause(field), added to ``clauses``; the clause if it has no modifier."""
        mod = _MOD.get(self.peek().kind, b.Mod.NONE)
        if mod is not b.Mod.NONE:
            self.pos += 1
        query = self.clause(field)
        b.add_clause(clauses, conj, mod, query)
        return query if mod is b.Mod.NONE else None

    def multi_term_ahead(self) -> bool:
        """MultiTerm's LOOKAHEAD(2): a TERM, then what ``more_terms_ahead`` wants."""
        return self.peek().kind is Kind.TERM and self.more_terms_ahead(1)

    def more_terms_ahead(self, offset: int) -> bool:
        """MultiTerm's semantic lookahead: ``getToken(1)`` is a TERM, ``getToken(2)`` may
        follow a run of terms (not ``:``, ``*``, ``~``, ``^``, AND, OR)."""
        if self.peek(offset).kind is not Kind.TERM:
            return False
        return self.peek(offset + 1).kind not in _NOT_AFTER_MULTITERM

    def multi_term(self, field: str, clauses: list[b.PendingClause]) -> Query:
        """MultiTerm: plain terms joined by single spaces into one text (addMultiTermClauses)."""
        run = [self.expect(Kind.TERM)]
        while self.more_terms_ahead(0):
            run.append(self.expect(Kind.TERM))
        # Whatever whitespace separated them, the terms are joined by one space.
        query = b.field_query(field, " ".join(discard_escape_char(t.image, t.start) for t in run))
        clauses.append(b.PendingClause(b.Occur.SHOULD, query))
        return query

    def clause(self, field: str) -> Query:
        """Clause: an optional ``field:`` (or ``*:``), then a Term or a parenthesised Query."""
        token = self.peek()
        if token.kind in (Kind.TERM, Kind.STAR) and self.peek(1).kind is Kind.COLON:
            is_star = token.kind is Kind.STAR
            field = "*" if is_star else discard_escape_char(token.image, token.start)
            self.pos += 2
        if self.peek().kind in _TERM_START:
            return self.term(field)
        if self.peek().kind is not Kind.LPAREN:
            self.fail("a term, a phrase, a range or '('")
        self.pos += 1
        query = self.query(field)
        self.expect(Kind.RPAREN)
        if self.accept(Kind.CARAT):
            self.expect(Kind.NUMBER)
        return query

    def term(self, field: str) -> Query:
        """Term: a bare token, a range or a quoted phrase, each with optional ``^boost``/``~``."""
        token = self.peek()
        if token.kind in _RANGE_START:
            return self.range(field)
        self.pos += 1
        slop = self.boost_and_slop()
        if token.kind is Kind.QUOTED:
            # A phrase's slop (`"a b"~2`) is accepted and, like the oracle, ignored.
            return b.field_query(field, discard_escape_char(token.image[1:-1], token.start + 1))
        return b.bare_token_query(field, token, slop)

    def boost_and_slop(self) -> Token | None:
        """``^N`` then ``~x``, or ``~x`` then ``^N``; boosts change only scores, so they go."""
        if self.accept(Kind.CARAT):
            self.expect(Kind.NUMBER)
            return self.accept(Kind.FUZZY_SLOP)
        slop = self.accept(Kind.FUZZY_SLOP)
        if slop is not None and self.accept(Kind.CARAT):
            self.expect(Kind.NUMBER)
        return slop

    def range(self, field: str) -> Query:
        """``[a TO b]``, ``{a TO b}`` or mixed, then an optional ``^boost``."""
        include_lower = self.expect(*_RANGE_START).kind is Kind.RANGEIN_START
        lower = self.bound()
        self.expect(Kind.RANGE_TO)
        upper = self.bound()
        include_upper = self.expect(*_RANGE_END).kind is Kind.RANGEIN_END
        if self.accept(Kind.CARAT):
            self.expect(Kind.NUMBER)
        return b.range_query(field, lower, upper, include_lower, include_upper)

    def bound(self) -> str | None:
        """A range bound with escapes removed; an unquoted ``*`` is an open end (None)."""
        token = self.expect(*_BOUND)
        if token.kind is not Kind.RANGE_QUOTED and token.image == "*":
            return None
        quoted = token.kind is Kind.RANGE_QUOTED
        image = token.image[1:-1] if quoted else token.image
        return discard_escape_char(image, token.start + quoted)
