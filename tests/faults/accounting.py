"""The fault suite's accounting: what became of every delivery a scenario published.

A delivery is one published event to one subscribed endpoint. It counts as delivered
or dead-lettered only if its chain ended so *with a full trace*: log rows numbered
1..n without gap or repeat, every row but the last a retryable failure, the chain's
attempt count n, and a last row that agrees with the end (a success for a delivered
chain, which its receiver must have got; a failure and a dead letter for a dead one).
Anything else is lost, with the reason kept in ``problems``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from app.models import ChainState, DeadLetter, Delivery, DeliveryLog


@dataclass
class Result:
    """One scenario's line: what was published, and what became of it."""

    setup: str
    scenario: str
    scale: int
    events: int  # events published
    published: int  # deliveries: events times the endpoints subscribed
    delivered: int = 0
    duplicates: int = 0  # requests beyond one per logged attempt: sent again after a fault
    dead_lettered: int = 0
    lost: int = 0
    recovery_s: float | None = None  # fault over -> every chain final; None: never
    refused: int = 0  # publications refused at publish (not published)
    redis_version: str = ""
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        """The printed line."""
        took = "never" if self.recovery_s is None else f"{self.recovery_s:.1f} s"
        refused = f"  refused {self.refused}" if self.refused else ""
        return (
            f"{self.setup:<18} {self.scenario:<38} published {self.published:>5}  "
            f"delivered {self.delivered:>5}  duplicates {self.duplicates:>4}  "
            f"dead-lettered {self.dead_lettered:>4}  lost {self.lost:>3}  recovery {took}{refused}"
        )

    def as_json(self) -> dict[str, Any]:
        """The line as a JSON object, for the results file."""
        keys = ("setup", "scenario", "scale", "events", "published", "delivered")
        keys += ("duplicates", "dead_lettered", "lost", "recovery_s", "refused")
        keys += ("redis_version",)
        return {key: getattr(self, key) for key in keys} | {"problems": len(self.problems)}


def account(
    reader: Engine,
    expected: dict[tuple[int, int], str],
    arrivals: Counter[str],
    result: Result,
    elsewhere: set[str] | None = None,
) -> Result:
    """Fill ``result`` from the database and the receivers' ``arrivals`` (by webhook-id).

    ``expected`` maps (publication id, subscription id) to the endpoint's path; the
    arrivals of the paths ``elsewhere`` (not on the receiver) are unknown.
    """
    chains, rows, dead = _load(reader)
    by_delivery: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for chain in chains:
        by_delivery[(chain.publication_id, chain.subscription_id)].append(chain)
    for key, path in sorted(expected.items()):
        found = by_delivery.get(key, [])
        if len(found) != 1:
            result.lost += 1
            result.problems.append(f"publication {key[0]} to {path}: {len(found)} chains")
            continue
        chain = found[0]
        got = None if path in (elsewhere or ()) else arrivals.get(chain.uuid, 0)
        result.duplicates += max(0, (got or 0) - len(rows[chain.id]))
        why = trace_problem(chain, rows[chain.id], dead.get(chain.id), got)
        if why:
            result.lost += 1
            result.problems.append(f"chain {chain.id} ({path}, {chain.uuid}): {why}")
        elif chain.state == ChainState.DELIVERED:
            result.delivered += 1
        else:
            result.dead_lettered += 1
    return result


def trace_problem(chain: Any, rows: list[Any], dead: Any, arrived: int | None) -> str:
    """Why ``chain`` has not ended with a full trace; "" if it has (``arrived``: how many
    requests its receiver got, None if unknown)."""
    if chain.state not in (ChainState.DELIVERED, ChainState.DEAD):
        return f"state {chain.state!r} after {len(rows)} logged attempts"
    numbers = [row.attempt for row in rows]
    if numbers != list(range(1, len(rows) + 1)) or chain.attempts != len(rows):
        return f"attempts {numbers}, chain says {chain.attempts}"
    if any(row.success or not row.retryable for row in rows[:-1]):
        return "an attempt before the last succeeded or was not retryable"
    last = rows[-1]
    if chain.state == ChainState.DELIVERED:
        if not last.success:
            return "delivered, but its last attempt failed"
        if arrived == 0:
            return "delivered, but its receiver never got it"
        return ""
    if last.success:
        return "dead, but its last attempt succeeded"
    if dead is None or dead.death_count != len(rows) - 1:
        return f"dead, with dead letter {dead and dead.death_count} for {len(rows)} attempts"
    return ""


def _load(reader: Engine) -> tuple[list[Any], dict[int, list[Any]], dict[int, Any]]:
    """Every chain; log rows by chain, in attempt order; dead letters by chain."""
    log = DeliveryLog.__table__.c
    with reader.connect() as conn:
        chains = conn.execute(select(Delivery.__table__)).all()
        logged = conn.execute(
            select(log.delivery_id, log.attempt, log.success, log.retryable).order_by(
                log.delivery_id, log.attempt, log.log_id
            )
        ).all()
        letters = conn.execute(select(DeadLetter.__table__)).all()
    rows: dict[int, list[Any]] = defaultdict(list)
    for row in logged:
        rows[row.delivery_id].append(row)
    return chains, rows, {letter.delivery_id: letter for letter in letters}
