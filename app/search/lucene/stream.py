"""Token stream: the parser's cursor over the lexer's tokens, its lookahead and its errors."""

from __future__ import annotations

from typing import NoReturn

from app.search.lucene.ast import QuerySyntaxError
from app.search.lucene.lexer import Kind, Token


class TokenStream:
    """Tokens from ``app.search.lucene.lexer.tokenize``, read left to right with any lookahead."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Token:
        """The token ``offset`` places ahead (the last repeats past the end).

        Looking at a character no token starts with is the lexical error, as in JavaCC.
        """
        token = self.tokens[min(self.pos + offset, len(self.tokens) - 1)]
        if token.kind is Kind.ERROR:
            raise QuerySyntaxError(f"unexpected character {token.image!r}", token.start)
        return token

    def accept(self, kind: Kind) -> Token | None:
        """Consume the next token if it is a ``kind``."""
        token = self.peek()
        if token.kind is not kind:
            return None
        self.pos += 1
        return token

    def expect(self, *kinds: Kind) -> Token:
        """Consume the next token, which must be one of ``kinds``."""
        token = self.peek()
        if token.kind not in kinds:
            self.fail(" or ".join(k.value for k in kinds))
        self.pos += 1
        return token

    def fail(self, wanted: str) -> NoReturn:
        """A syntax error at the next token: what was wanted, what was found, where."""
        token = self.peek()
        found = token.kind.value if token.kind is Kind.EOF else repr(token.image)
        raise QuerySyntaxError(f"expected {wanted} but found {found}", token.start)
