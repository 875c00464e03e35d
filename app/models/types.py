"""Column types: UTC timestamps and verification tokens encrypted at rest."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Dialect, Text
from sqlalchemy.types import TypeDecorator

from app.instance import instance_secret


def utcnow() -> datetime:
    """Now, as the naive UTC datetime every timestamp column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def init_app(app: Flask) -> None:
    """Build the token cipher from TOKEN_ENCRYPTION_KEYS, or a key kept in instance/."""
    keys = list(app.config.get("TOKEN_ENCRYPTION_KEYS") or [])
    if not keys:
        keys = [instance_secret(app, "token.key", Fernet.generate_key().decode())]
    try:
        cipher = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"TOKEN_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from None
    app.extensions["token_cipher"] = cipher


@functools.lru_cache(maxsize=4096)
def _decrypt(cipher: MultiFernet, token: str) -> str:
    """Decrypt a stored token, once per process and cipher.

    Workers load the same subscriptions round after round, and decrypting them was 5%
    of their GIL time. A Fernet token differs at every encryption, so a changed token
    is a new entry here, never a stale one.
    """
    return cipher.decrypt(token.encode()).decode()


class EncryptedText(TypeDecorator[str]):
    """Text encrypted with Fernet (MultiFernet: the first key encrypts, any key decrypts).

    Verification tokens are never hashed: the HTTP sink needs the plaintext to sign.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        if value is None:
            return None
        cipher: MultiFernet = current_app.extensions["token_cipher"]
        return cipher.encrypt(str(value).encode()).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        """Decrypt on the way out; a key mismatch is an operator error worth a clear message."""
        if value is None:
            return None
        cipher: MultiFernet = current_app.extensions["token_cipher"]
        try:
            return _decrypt(cipher, value)
        except InvalidToken:
            raise ValueError(
                "a verification token cannot be decrypted: TOKEN_ENCRYPTION_KEYS "
                "does not hold the key it was encrypted with"
            ) from None
