"""Hostile receivers beside a healthy one, and poison publications among healthy ones:
every chain ends with a full trace, the healthy deliveries are not held up, and what
cannot be delivered faithfully is refused at publish."""

from __future__ import annotations

import contextlib
import time

import pytest

from tests.faults.actions import arrived, at, check
from tests.faults.harness import Endpoint
from tests.faults.run import SCALE
from tests.sinks import hostile

pytestmark = pytest.mark.slow
HEALTHY_WITHIN = 4.0  # s from publish to the last healthy arrival; the total timeout is 4 s

# Each behaviour of tests/sinks/hostile.py with the options it needs; trickles a byte every 0.5 s.
HOSTILE = {
    "never_answer": {},
    "trickle_status": {"interval": 0.5},
    "trickle_headers": {"interval": 0.5},
    "trickle_body": {"interval": 0.5},
    "huge_body": {},
    "gzip_bomb": {"layers": 1},
    "gzip_bomb_2": {"layers": 2},
    "redirect_loop": {},
    "redirect_metadata": {"location": "http://169.254.169.254/latest/meta-data/"},
    "redirect_private": {"location": "http://10.1.2.3/hook"},
    "not_http": {},
    "reset_headers": {},
    "reset_body": {},
    "nul_bytes": {},
    "nul_header": {},
}


def _behaviour(name: str) -> str:
    """The tests/sinks/hostile.py behaviour behind a scenario's name for it."""
    if name.startswith("redirect_") and name != "redirect_loop":
        return "redirect"
    return name.removesuffix("_2")


def _healthy_in_time(count: int) -> object:
    """The fault, run right after the publish: wait for the healthy endpoint's
    deliveries, then check how long they took."""

    def healthy(run: object) -> None:
        started = time.monotonic()
        at(arrived(count, "/ok"))(run)
        took = time.monotonic() - started
        check(lambda _run: took < HEALTHY_WITHIN, f"healthy deliveries took {took:.1f} s")(run)

    return healthy


def test_hostile_receivers_beside_a_healthy_one(faults):
    """Fifteen hostile endpoints get the same events as a healthy one."""
    events = 4
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(hostile.serve(_behaviour(name), **options))
            for name, options in HOSTILE.items()
        }
        endpoints = [Endpoint("/ok")] + [
            Endpoint(f"/{name}", url=server.url) for name, server in servers.items()
        ]
        result = faults.run(
            "hostile receivers beside a healthy one",
            endpoints=endpoints,
            publish=events,
            fault=_healthy_in_time(events * SCALE),
        )
    # The healthy endpoint and the 200 answers (huge body, two gzip bombs, NUL bytes in the
    # body, a NUL byte in a header) are delivered; the other ten fail and dead-letter.
    assert result.delivered == events * SCALE * 6
    assert result.dead_lettered == events * SCALE * 10


def _deep(levels: int) -> dict:
    """A dict nested ``levels`` deep, built without recursion."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


POISON = [
    {"text": "\ud800"},
    {"\udfff": 1},
    {"total": float("nan")},
    {"total": float("inf")},
    {"total": float("-inf")},
    {"text": "a\x00b"},
    _deep(1000),
    {"blob": "x" * (10 * 1024 * 1024)},
]


def test_poison_publications_among_healthy_ones(faults):
    """Each poison publication is refused at publish; the healthy ones around it arrive."""
    healthy = [{"n": i, "text": "naïve ☃ \U0001f600"} for i in range(len(POISON) * SCALE)]
    mixed = [item for pair in zip(healthy, POISON * SCALE, strict=True) for item in pair]
    result = faults.run(
        "poison publications among healthy ones",
        endpoints=[Endpoint("/ok")],
        publish=mixed,
        fault=at(arrived(len(healthy), "/ok")),
    )
    assert result.refused == len(POISON) * SCALE
    assert result.delivered == len(healthy)
