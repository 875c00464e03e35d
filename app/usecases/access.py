"""Access: dashboard users with hashed passwords and REST bearer tokens stored hashed."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import ApiToken, User
from app.models.types import utcnow
from app.usecases.passwords import set_password

# The original's ACL tree (seed spec §9), plus publish; "manage" grants all.
PERMISSIONS = ("manage", "view", "save", "logs_list", "logs_trace", "logs_replay", "publish")
TOKEN_PREFIX = "ae_"

# Dashboard roles and the permissions each grants; "manage" grants every permission.
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"manage"}),
    "operator": frozenset({"view", "save", "logs_list", "logs_trace", "logs_replay"}),
    "viewer": frozenset({"view", "logs_list", "logs_trace"}),
}


def allows(granted: frozenset[str] | set[str], permission: str) -> bool:
    """Whether a set of granted permissions includes ``permission`` ("manage" includes all)."""
    return "manage" in granted or permission in granted


def role_permissions(role: str) -> frozenset[str]:
    """The permissions of a dashboard role; an unknown role grants nothing."""
    return ROLES.get(role, frozenset())


class AccessError(ValueError):
    """A user or token was asked for that cannot be made; the message says why."""


def create_user(username: str, password: str, role: str = "admin") -> User:
    """Create a dashboard user, or reset the password of an existing one.

    With the default password the user must choose a new one at sign-in (``passwords``).
    """
    if not username or not password:
        raise AccessError("username and password must not be empty")
    if role not in ROLES:
        raise AccessError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
    user = find_user(username)
    if user is None:
        user = User(username=username, role=role)
        db.session.add(user)
    set_password(user, password)
    user.role = role
    db.session.commit()
    return user


def find_user(username: str) -> User | None:
    """The user with this name, or None."""
    return db.session.scalars(select(User).where(User.username == username)).first()


def check_user(username: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    user = find_user(username)
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        return None
    return user


def create_token(name: str, permissions: list[str]) -> tuple[ApiToken, str]:
    """Create a bearer token; return the row and the token, which is never shown again."""
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise AccessError(
            f"unknown permission(s) {', '.join(unknown)}; known: {', '.join(PERMISSIONS)}"
        )
    if not permissions:
        raise AccessError(f"give at least one permission: {', '.join(PERMISSIONS)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, token_hash=hash_token(token), permissions=" ".join(sorted(set(permissions)))
    )
    db.session.add(row)
    db.session.commit()
    return row, token


def hash_token(token: str) -> str:
    """SHA-256 is enough for a 256-bit random token: there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_token(token: str) -> ApiToken | None:
    """The active token row for a presented bearer token, or None."""
    row = db.session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).first()
    return row if row is not None and row.active else None


def list_tokens() -> list[ApiToken]:
    """Every bearer token, newest first (only hashes are stored, never the tokens)."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def revoke_token(token_id: int) -> ApiToken | None:
    """Deactivate a token for good; None if there is no such token."""
    row = db.session.get(ApiToken, token_id)
    if row is not None:
        row.active = False
        db.session.commit()
    return row


def list_users() -> list[User]:
    """Every dashboard user, by name."""
    return list(db.session.scalars(select(User).order_by(User.username)))


def add_user(username: str, password: str, role: str) -> User:
    """Create a new user; refuse a name that is taken (``create_user`` would reset it)."""
    if find_user(username) is not None:
        raise AccessError(f"a user named {username!r} already exists")
    return create_user(username, password, role)


def update_user(user_id: int, active: bool | None = None, password: str | None = None) -> User:
    """Activate, deactivate or set a new password; a new password ends the user's sessions."""
    user = db.session.get(User, user_id)
    if user is None:
        raise AccessError(f"user {user_id} does not exist")
    if active is not None:
        user.active = active
    if password is not None:
        if not password:
            raise AccessError("password must not be empty")
        set_password(user, password)
    db.session.commit()
    return user


def get_user(user_id: int) -> User | None:
    """The user with this id, or None."""
    return db.session.get(User, user_id)


def mark_used(row: ApiToken, every_seconds: int = 60) -> None:
    """Record that a token was just used; at most one write per ``every_seconds`` per token."""
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= every_seconds:
        row.last_used_at = now
        db.session.commit()
