"""Geometry of the home page's success-rate chart, drawn as server-side SVG (no script, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass

from app.usecases.dashboard import Hour

WIDTH, HEIGHT = 720, 180  # the SVG viewBox
LEFT, TOP, BOTTOM = 40, 8, 22  # room for the y labels, the top line and the hour labels


@dataclass(frozen=True)
class Bar:
    """One hour's bar: its box, a colour class, a tooltip and an optional x-axis label."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    label: str


def _css(rate: float | None) -> str:
    if rate is None:
        return "bar-empty"
    return "bar-ok" if rate >= 0.99 else "bar-warn" if rate >= 0.9 else "bar-failed"


def _title(hour: Hour) -> str:
    span = f"{hour.start:%H:%M} to {(hour.start.hour + 1) % 24:02d}:00 UTC"
    if hour.rate is None:
        return f"{span}: no attempts"
    return f"{span}: {hour.succeeded} succeeded, {hour.failed} failed ({hour.rate:.1%})"


def rate_bars(hours: list[Hour]) -> list[Bar]:
    """A bar per hour, as tall as its success rate; hours without attempts get a thin stub."""
    plot = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT) / max(len(hours), 1)
    bars = []
    for i, hour in enumerate(hours):
        tall = plot * hour.rate if hour.rate is not None else 2
        tall = max(tall, 2)  # a 0 % hour still shows as a red sliver
        label = f"{hour.start:%H}h" if i % 3 == 0 or i == len(hours) - 1 else ""
        x = LEFT + i * step + step * 0.12
        bars.append(
            Bar(x, TOP + plot - tall, step * 0.76, tall, _css(hour.rate), _title(hour), label)
        )
    return bars


def gridlines() -> list[tuple[float, str]]:
    """The y positions and labels of the 0 %, 50 % and 100 % lines."""
    plot = HEIGHT - TOP - BOTTOM
    return [(TOP + plot * (1 - share), f"{share:.0%}") for share in (0.0, 0.5, 1.0)]
