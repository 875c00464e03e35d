"""Field ids: the small integers that name leaf paths in the postings.

Ids are cached per process. A path this process inserts is trusted only inside the
transaction that inserted it: if that transaction rolls back, SQLite may hand the
same id to another path, so the next transaction looks the path up again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import SearchField


class FieldIds:
    """Path <-> id, read and extended in the caller's transaction."""

    def __init__(self) -> None:
        self.committed: dict[str, int] = {}
        self._local = threading.local()  # per thread: (transaction, {path: id}) it inserted

    def ids(self, session: Session, paths: Iterable[str]) -> dict[str, int]:
        """The id of every path, creating the missing ones in the caller's transaction."""
        fresh = self._fresh(session)
        wanted = set(paths)
        found = {p: self.committed.get(p) or fresh.get(p) for p in wanted}
        missing = [p for p, i in found.items() if i is None]
        if missing:
            found.update(self._load(session, missing, fresh))
            new = [p for p in missing if found.get(p) is None]
            if new:
                self._create(session, new)
                created = self._read(session, new)
                fresh.update(created)
                found.update(created)
        return found  # type: ignore[return-value]

    def paths(self, session: Session) -> dict[str, int]:
        """Every known path and its id (queries expand bare terms and ``_exists_`` with it)."""
        return dict(session.execute(select(SearchField.path, SearchField.id)).all())

    def forget(self) -> None:
        """Drop the cache (after the field table was emptied)."""
        self.committed.clear()
        self._local.__dict__.clear()

    def _fresh(self, session: Session) -> dict[str, int]:
        session.connection()  # begin now: the transaction we key on must be the one we write in
        transaction = session.get_transaction()
        state = getattr(self._local, "state", None)
        if state is None or state[0] is not transaction:
            self._local.state = state = (transaction, {})
        return state[1]

    def _load(self, session: Session, paths: list[str], fresh: dict[str, int]) -> dict[str, int]:
        rows = self._read(session, paths)
        self.committed.update({p: i for p, i in rows.items() if p not in fresh})
        return rows

    def _read(self, session: Session, paths: list[str]) -> dict[str, int]:
        rows: dict[str, int] = {}
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            query = select(SearchField.path, SearchField.id).where(SearchField.path.in_(chunk))
            rows.update(session.execute(query).all())
        return rows

    def _create(self, session: Session, paths: list[str]) -> None:
        """Insert paths; on PostgreSQL a concurrent writer may insert the same one first."""
        statement = insert(SearchField)
        if session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(SearchField).on_conflict_do_nothing(index_elements=["path"])
        session.execute(statement, [{"path": p} for p in sorted(paths)])
