"""The fault suite's own judge: what counts as a full trace, a duplicate, or a loss."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.models import ChainState
from tests.faults.accounting import resent, trace_problem


def row(attempt: int, success: bool = False) -> SimpleNamespace:
    return SimpleNamespace(attempt=attempt, success=success, retryable=not success)


def chain(attempts: int, state: str = ChainState.DELIVERED) -> SimpleNamespace:
    return SimpleNamespace(attempts=attempts, state=state)


@pytest.mark.parametrize(
    ("rows", "attempts", "problem", "extra"),
    [
        ([row(1), row(2, True)], 2, "", 0),
        ([row(1), row(1), row(2, True)], 2, "", 1),  # attempt 1 re-sent after its lease
        ([row(1), row(2, True), row(2, True)], 2, "", 1),
        ([row(1, True), row(1), row(2, True)], 2, "", 1),  # the re-send failed first
        ([row(1, True), row(1, True), row(2, True)], 2, "attempt 1, before the last", 1),
        ([row(1), row(3, True)], 3, "attempts [1, 3], chain says 3", 0),
        ([row(1), row(1, True)], 2, "attempts [1, 1], chain says 2", 0),
        ([row(1, True), row(2, True)], 2, "attempt 1, before the last, succeeded", 0),
        ([row(1), row(2)], 2, "delivered, but its last attempt failed", 0),
    ],
)
def test_a_resent_attempt_is_a_duplicate_and_a_gap_is_a_loss(rows, attempts, problem, extra):
    found = trace_problem(chain(attempts), rows, None, arrived=None)
    assert found.startswith(problem) and bool(found) == bool(problem)
    assert resent(chain(attempts), rows) == extra


def test_a_dead_chain_needs_its_dead_letter_count():
    dead = SimpleNamespace(death_count=1)
    rows = [row(1), row(1), row(2)]
    assert trace_problem(chain(2, ChainState.DEAD), rows, dead, None) == ""
    assert trace_problem(chain(2, ChainState.DEAD), rows, None, None).startswith("dead, with")
