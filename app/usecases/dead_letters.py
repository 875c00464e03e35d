"""Dead letters: the chains that could not be delivered, newest first, with what became of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import DeadLetter, Delivery, Subscription


@dataclass(frozen=True)
class DeadLetterRow:
    """A dead letter, its subscription's event and recipient, and its UUID's newest chain state.

    ``current`` tells an operator whether a replay since has been delivered
    (``delivered``), is still trying (``pending``), or died again (``dead``).
    """

    letter: DeadLetter
    event_name: str | None
    recipient_url: str | None
    current: str | None


def page(before: int | None, size: int) -> tuple[list[DeadLetterRow], int | None]:
    """Up to ``size`` dead letters with ids below ``before`` (None: the newest), and the next."""
    query = (
        select(DeadLetter, Subscription.event_name, Subscription.recipient_url)
        .outerjoin(Subscription, Subscription.subscription_id == DeadLetter.subscription_id)
        .order_by(DeadLetter.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(DeadLetter.id < before)
    found = db.session.execute(query).all()
    shown = found[:size]
    states = _newest_states({letter.uuid for letter, _, _ in shown})
    rows = [DeadLetterRow(ltr, name, url, states.get(ltr.uuid)) for ltr, name, url in shown]
    return rows, shown[-1][0].id if len(found) > size else None


def count() -> int:
    """How many dead letters there are."""
    return db.session.scalar(select(func.count()).select_from(DeadLetter)) or 0


def uuids_of(ids: Iterable[int]) -> list[str]:
    """The UUIDs of the dead letters ``ids``, each once, in id order (unknown ids skipped)."""
    query = select(DeadLetter.uuid).where(DeadLetter.id.in_(list(ids))).order_by(DeadLetter.id)
    return list(dict.fromkeys(db.session.scalars(query)))


def _newest_states(uuids: set[str]) -> dict[str, str]:
    if not uuids:
        return {}
    query = (
        select(Delivery.uuid, Delivery.state).where(Delivery.uuid.in_(uuids)).order_by(Delivery.id)
    )
    return {uuid: state for uuid, state in db.session.execute(query)}  # later ones win
