"""A recipient's password, kept apart from its URL and encrypted at rest.

A broker's recipient may carry credentials (``amqp://shop:s3cret@mq/orders?...``). The
URL without the password is what the database stores in ``recipient_url``, the REST API
answers, the dashboard shows and the search filters match; the password goes into
``recipient_secret``, encrypted like verification tokens, and is put back only to
deliver. The user name stays in the URL: it says which account, not how to get in.
Percent-escapes are kept as they came, so the joined URL is the one that was given.
"""

from __future__ import annotations


def split(url: str) -> tuple[str, str | None]:
    """``url`` without its password, and the password (None when it has none)."""
    scheme, found, rest = url.partition("://")
    if not found:
        return url, None
    authority, sep, tail = _cut(rest)
    userinfo, at, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon:
        return url, None
    return f"{scheme}://{user}@{host}{sep}{tail}", password


def join(url: str, password: str | None) -> str:
    """``url`` with ``password`` put back after its user name (``url`` when None)."""
    if password is None:
        return url
    scheme, found, rest = url.partition("://")
    authority, sep, tail = _cut(rest)
    user, at, host = authority.rpartition("@")
    if not found or not at:
        return url
    return f"{scheme}://{user}:{password}@{host}{sep}{tail}"


def keep(old_url: str, old_password: str | None, new_url: str) -> tuple[str, str | None]:
    """What to store when ``new_url`` replaces ``old_url``: a new password if it has one;
    else the old one, as long as the URL without it is unchanged (a form that shows the
    URL without its password sends it back so); else none."""
    public, password = split(new_url)
    if password is not None:
        return public, password
    return public, old_password if public == old_url else None


def _cut(rest: str) -> tuple[str, str, str]:
    """The authority of ``rest`` (after ``scheme://``), and what follows it."""
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], char, rest[index + 1 :]
    return rest, "", ""
