"""Trace: one delivery chain's attempts, subscription and payload, with Replay."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from app.admin.payload import highlight
from app.admin.views.logs import LogScreen
from app.usecases import replay as replay_service
from app.usecases import trace as trace_service

TRACE_GONE = "This asynchronous event trace no longer exists."  # the original's words
GRID_ARGS = ("q", "size")  # the grid's search, carried through so Back returns to it


class TraceView(LogScreen):
    """``/admin/logs/trace/<uuid>``; reached from the logs grid, so not in the menu."""

    permission = "logs_trace"

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self) -> ResponseReturnValue:
        return redirect(url_for("logs.index"))

    @expose("/<uuid>")
    def show(self, uuid: str) -> ResponseReturnValue:
        found = trace_service.trace(uuid)
        if found is None:
            flash(TRACE_GONE, "error")
            return redirect(url_for("logs.index"))
        return self.render(
            "admin/logs/trace.html",
            trace=found,
            status_kind=status_kind(found.status),
            payload=highlight(found.payload),
            can_replay=self.allowed("logs_replay"),
            grid_args=grid_args(),
        )

    @expose("/<uuid>/replay", methods=("POST",))
    def replay(self, uuid: str) -> ResponseReturnValue:
        self.require("logs_replay")
        if replay_service.replay(uuid) is None:
            flash("Nothing was replayed: no stored payload under this UUID.", "error")
        else:
            flash("Replay queued: its attempts appear below under the same UUID.", "success")
        return redirect(url_for(".show", uuid=uuid, **grid_args()))


def grid_args() -> dict[str, str]:
    """The grid's search from this request's query string, so Back returns to it."""
    return {k: v for k, v in request.args.items() if k in GRID_ARGS and v}


def status_kind(status: str) -> str:
    """How a status line is coloured: delivered, dead, retrying or cancelled."""
    for prefix, kind in (("Delivered", "delivered"), ("Dead", "dead"), ("Retrying", "retrying")):
        if status.startswith(prefix):
            return kind
    return "cancelled"
