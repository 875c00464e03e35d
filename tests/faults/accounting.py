"""The fault suite's accounting: what became of every delivery a scenario published.

A delivery is one published event to one subscribed endpoint. It counts as delivered
or dead-lettered only if its chain ended so *with a full trace*: log rows numbered
1..n without a gap, each number before n with a retryable failure among its rows, the
chain's attempt count n, and a last number that agrees with the end (a success for a
delivered chain, which its receiver must have got; failures and a dead letter for a
dead one). A number may have two rows: an attempt re-sent after its lease ran out, a
duplicate. Anything else is lost, with the reason kept in ``problems``.
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
        trace = rows[chain.id]
        result.duplicates += max(0, (got or 0) - len(trace)) + resent(chain, trace)
        why = trace_problem(chain, trace, dead.get(chain.id), got)
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
    requests its receiver got, None if unknown).

    Every attempt number from 1 to the chain's count must have a row. One number may
    have two: when recording outlasts a lease (6 s here, in a fault), the sweep hands
    the chain out again and the attempt is sent twice; both sends are logged, the chain
    advances once, on whichever was recorded first. That is a duplicate, counted as one
    (``resent``), not a gap. So before the last number, a number with one row must have
    failed retryably, and one with several must have at least one such row (the one
    that moved the chain on; the other may have arrived: a duplicate delivery).
    """
    if chain.state not in (ChainState.DELIVERED, ChainState.DEAD):
        return f"state {chain.state!r} after {len(rows)} logged attempts"
    by_number: dict[int, list[Any]] = {}
    for row in rows:
        by_number.setdefault(row.attempt, []).append(row)
    if sorted(by_number) != list(range(1, chain.attempts + 1)):
        return f"attempts {[row.attempt for row in rows]}, chain says {chain.attempts}"
    for number in range(1, chain.attempts):
        if not any(not row.success and row.retryable for row in by_number[number]):
            return f"attempt {number}, before the last, succeeded or was not retryable"
    succeeded = any(row.success for row in by_number[chain.attempts])
    if chain.state == ChainState.DELIVERED:
        if not succeeded:
            return "delivered, but its last attempt failed"
        if arrived == 0:
            return "delivered, but its receiver never got it"
        return ""
    if succeeded:
        return "dead, but its last attempt succeeded"
    if dead is None or dead.death_count != chain.attempts - 1:
        return f"dead, with dead letter {dead and dead.death_count} for {len(rows)} attempts"
    return ""


def resent(chain: Any, rows: list[Any]) -> int:
    """Sends logged beyond one per attempt: an attempt re-sent after its lease ran out."""
    return max(0, len(rows) - chain.attempts)


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
