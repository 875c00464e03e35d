"""Dead letters: chains that could not be delivered, each traced and replayed, one or many."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from app.admin.paging import page_size, pager
from app.admin.views.base import row_id, row_ids
from app.admin.views.logs import LogScreen
from app.db import values
from app.usecases import dead_letters, replay


class DeadLettersView(LogScreen):
    """Newest first; replaying needs ``logs_replay`` (the button is hidden without it)."""

    permission = "logs_list"

    @expose("/")
    def index(self) -> ResponseReturnValue:
        size = page_size(request.args.get("size"))
        cursor = request.args.get("cursor", "")
        rows, next_id = dead_letters.page(row_id(cursor, values.INT64), size)
        return self.render(
            "admin/logs/dead_letters.html",
            rows=rows,
            total=dead_letters.count(),
            pager=pager(request.args, size, str(next_id) if next_id else None),
            args={"size": size} if size != 50 else {},
            can_replay=self.allowed("logs_replay"),
        )

    @expose("/replay", methods=("POST",))
    def replay_selected(self) -> ResponseReturnValue:
        self.require("logs_replay")
        ids = row_ids(request.form.getlist("id"), values.INT64)
        if not ids:
            flash("Select the dead letters to replay first.", "warning")
            return redirect(url_for(".index"))
        return self._replay(ids)

    @expose("/<int:letter_id>/replay", methods=("POST",))
    def replay_one(self, letter_id: int) -> ResponseReturnValue:
        self.require("logs_replay")
        return self._replay([letter_id])

    def _replay(self, ids: list[int]) -> ResponseReturnValue:
        result = replay.replay_many(dead_letters.uuids_of(ids))
        if result.replayed:
            count = len(result.replayed)
            flash(f"A total of {count} dead letter chain(s) queued for replay.", "success")
        if result.not_found or not result.replayed:
            flash("Some dead letters had no stored payload and were not replayed.", "warning")
        return redirect(url_for(".index"))
