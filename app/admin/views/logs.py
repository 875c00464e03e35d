"""Logs: the delivery history grid with Lucene search, cursor paging, CSV export and bulk replay."""

from __future__ import annotations

from itertools import chain

from flask import Response, flash, redirect, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_admin import expose

from app.admin.paging import page_size, pager
from app.admin.views.base import SecuredView
from app.delivery import queues
from app.models.types import utcnow
from app.search.failover import CHOICES
from app.search.lucene.ast import QuerySyntaxError
from app.usecases import export, replay, search

# Up to this many chains replay inside the request; more go to the bulk replay job,
# so an incident-sized replay never dies half-way with the request.
INLINE_REPLAY_LIMIT = 500
REPLAY_JOB = "jobs.replay.replay_matching"


class LogScreen(SecuredView):
    """The log screens' own stylesheet and script, beside the dashboard's."""

    @property
    def extra_css(self) -> list[str]:  # type: ignore[override]
        return [url_for("static", filename="logs.css")]

    @property
    def extra_js(self) -> list[str]:  # type: ignore[override]
        return [url_for("static", filename="logs.js")]


class LogsView(LogScreen):
    """Every delivery attempt, newest first, filtered by a Lucene query in ``q``."""

    permission = "logs_list"

    @expose("/")
    def index(self) -> ResponseReturnValue:
        """The page and its count share one time budget (``SEARCH_TIMEOUT``): a page that
        runs out of it is the error box; a count that does, a page shown uncounted.

        ``engine`` (auto, external, embedded) picks the search engine; auto answers from
        the embedded index while the external cluster is unavailable, and says so."""
        q, size = request.args.get("q", ""), page_size(request.args.get("size"))
        choice = request.args.get("engine", "auto")
        searcher = search.Searcher(choice if choice in CHOICES else "auto")  # type: ignore[arg-type]
        context = {"q": q, "size": size, "can_replay": self.allowed("logs_replay")}
        context |= {"searcher": searcher, "engines": searcher.engines}
        try:
            with search.time_budget():
                page = search.search(q, size, request.args.get("cursor") or None, searcher)
                total, uncounted = _count(q, searcher)
        except QuerySyntaxError as exc:  # syntax, the cost limits, or the time budget
            return self.render("admin/logs/grid.html", error=exc, **context)
        except search.SearchUnavailable as exc:  # and nothing can stand in for it
            return self.render("admin/logs/grid.html", unavailable=exc, **context)
        except search.CursorError:
            flash("That page link is no longer valid: showing the newest attempts.", "warning")
            return redirect(url_for(".index", q=q, size=size))
        paging = pager(request.args, size, page.next_cursor)
        found = {"page": page, "total": total, "uncounted": uncounted, "pager": paging}
        return self.render("admin/logs/grid.html", **found, **context)

    @expose("/export.csv")
    def export_csv(self) -> ResponseReturnValue:
        """A refused query or a first batch out of time is a message; a later batch out
        of time (``SEARCH_EXPORT_TIMEOUT`` each) ends the download as failed."""
        q = request.args.get("q", "")
        try:
            lines = export.csv_lines(q)
        except (QuerySyntaxError, search.SearchUnavailable) as exc:
            flash(f"Nothing exported: {_why(exc)}", "error")
            return redirect(url_for(".index", q=q))
        name = f"async-event-logs-{utcnow():%Y%m%d-%H%M%S}.csv"
        body = stream_with_context(chain(["\ufeff"], lines))  # BOM: Excel then reads UTF-8
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        headers["Cache-Control"] = "no-store"
        return Response(body, mimetype="text/csv", headers=headers)

    @expose("/replay", methods=("GET", "POST"))
    def replay_matching(self) -> ResponseReturnValue:
        self.require("logs_replay")
        q = request.values.get("q", "")
        if not q.strip():
            flash("Search first: Replay all matching replays the chains of a search.", "warning")
            return redirect(url_for(".index"))
        try:
            if request.method == "POST":  # the count shown on the confirmation, not recounted
                flash(*_replay(q, request.form.get("count", type=int) or 0))
                return redirect(url_for(".index", q=q))
            with search.time_budget():  # one budget for the count's every batch
                count = replay.count_matching(q)
        except (QuerySyntaxError, search.SearchUnavailable) as exc:
            flash(f"Nothing replayed: {_why(exc)}", "error")
            return redirect(url_for(".index", q=q))
        return self.render("admin/logs/replay_confirm.html", q=q, count=count)


def _replay(q: str, count: int) -> tuple[str, str]:
    """Replay the chains of ``q`` (in the background when there are many): message, category."""
    if count <= INLINE_REPLAY_LIMIT:
        return f"{replay.replay_matching(q)} chain(s) queued for replay.", "success"
    if queues.enqueue_job(REPLAY_JOB, q):
        return f"{count} chain(s) are being queued for replay in the background.", "success"
    return "Nothing replayed: the job queue (Redis) is unreachable. Try again shortly.", "error"


def _count(q: str, searcher: search.Searcher) -> tuple[int | None, search.SearchTimeout | None]:
    """The number of matches, or None and why when counting ran out of time."""
    try:
        return search.count(q, searcher), None
    except search.SearchTimeout as exc:
        return None, exc


def _why(exc: QuerySyntaxError | search.SearchUnavailable) -> str:
    """Why a query could not be run, as a sentence for a flash message."""
    if isinstance(exc, search.SearchUnavailable):
        return str(exc)[:1].upper() + str(exc)[1:] + "."
    if isinstance(exc, search.QueryTooCostly | search.SearchTimeout):
        return exc.message[:1].upper() + exc.message[1:] + "."
    return f"the query is not valid. {exc}"
