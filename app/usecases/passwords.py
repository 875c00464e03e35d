"""Dashboard passwords: storing one, the default password's flag, and a user's own change.

The default password (``ADMIN_DEFAULT_PASSWORD``, what `make run` gives ``admin``) is
public knowledge, so a user who has it must choose another before the dashboard opens.
"""

from __future__ import annotations

import secrets

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import User

MIN_PASSWORD = 10  # characters, for every password chosen in the dashboard


class PasswordError(ValueError):
    """A new password was refused; the message says why."""


class WrongPasswordError(PasswordError):
    """The password given to confirm a change is not the user's."""


def set_password(user: User, password: str) -> None:
    """Store ``password`` hashed (scrypt); flag the user if it is the default one.

    Any other password clears the flag: whoever set it has chosen it. Not committed.
    """
    user.password_hash = generate_password_hash(password)
    user.must_change_password = is_default_password(password)


def is_default_password(password: str) -> bool:
    """Whether ``password`` is the configured default one, which everybody knows."""
    default = current_app.config.get("ADMIN_DEFAULT_PASSWORD") or ""
    return bool(default) and secrets.compare_digest(password.encode(), default.encode())


def require_new_password(user: User) -> None:
    """Keep the dashboard closed to ``user`` until a new password is chosen."""
    if not user.must_change_password:
        user.must_change_password = True
        db.session.commit()


def change_own_password(user: User, current: str, new: str) -> None:
    """A user replaces their own password, which clears ``must_change_password``.

    Raises WrongPasswordError unless ``current`` is right, and PasswordError unless
    ``new`` has ``MIN_PASSWORD`` characters, differs from ``current`` and is not the
    default password.
    """
    if not check_password_hash(user.password_hash, current):
        raise WrongPasswordError("The current password is wrong.")
    if len(new) < MIN_PASSWORD:
        raise PasswordError(f"The new password must have at least {MIN_PASSWORD} characters.")
    if new == current:
        raise PasswordError("The new password must differ from the current one.")
    if is_default_password(new):
        raise PasswordError("The new password must not be the default password.")
    set_password(user, new)
    db.session.commit()
