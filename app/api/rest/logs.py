"""Delivery history over REST: Lucene search with cursor paging, trace, replay one or many."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field

from app.api.rest.errors import ApiError
from app.api.rest.spec import RestApi
from app.delivery import queues
from app.search.lucene.ast import QuerySyntaxError
from app.usecases import replay, search, trace

TRACE_GONE = "This asynchronous event trace no longer exists."  # the original's words
REPLAY_JOB = "jobs.replay.replay_matching"


class LogEntry(BaseModel):
    """One delivery attempt."""

    log_id: int
    uuid: str | None
    subscription_id: int
    event_name: str | None
    success: bool
    attempt: int
    status_code: int | None
    duration_ms: int
    retryable: bool
    response_data: str
    created: str


class LogPage(BaseModel):
    """A page of matching attempts, newest first; pass ``next_cursor`` back for the next.

    ``search_engine`` says which engine answered; ``search_notice`` says why, when the
    embedded index answered because the external cluster was unavailable."""

    items: list[LogEntry]
    next_cursor: str | None
    search_engine: str = ""
    search_notice: str | None = None


class LogQuery(BaseModel):
    """``q`` in Lucene syntax (empty: all), page size, and the previous page's cursor."""

    model_config = ConfigDict(extra="forbid")
    q: str = Field(default="", max_length=4000)
    page_size: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=200)


class TraceOut(BaseModel):
    """Every attempt of one chain, its status, subscription and payload."""

    uuid: str
    status: str
    first_attempt: str | None
    last_attempt: str | None
    subscription: dict[str, Any] | None
    attempts: list[LogEntry]
    payload: Any


class ReplayOne(BaseModel):
    """The new chain that replays a UUID."""

    uuid: str
    chain_id: int


class BulkReplayRequest(BaseModel):
    """Replay every chain with an attempt matching ``q``; ``dry_run`` only counts them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    q: str = Field(min_length=1, max_length=4000)
    dry_run: bool = True


class BulkReplayResult(BaseModel):
    """How many chains match (and, unless a dry run, were queued for replay)."""

    count: int
    dry_run: bool


def entry(row: Any, event_name: str | None = None) -> LogEntry:
    """A log row as the API shows it."""
    return LogEntry(
        log_id=row.log_id,
        uuid=row.uuid,
        subscription_id=row.subscription_id,
        event_name=event_name,
        success=row.success,
        attempt=row.attempt,
        status_code=row.status_code,
        duration_ms=row.duration_ms,
        retryable=row.retryable,
        response_data=row.response_data,
        created=row.created.strftime("%Y-%m-%d %H:%M:%S"),
    )


def refused(exc: QuerySyntaxError | search.CursorError) -> ApiError:
    """A search that cannot be run, as REST answers it: 422 if it ran out of time, else 400.

    400 for what is wrong with the text itself: syntax, a bad cursor, the cost limits
    (length, clauses, wildcard terms). A search stopped at its time budget is also
    the client's to fix, by narrowing the query, so it is a 4xx, not a 5xx; but the
    request was well-formed and within every limit, and the same text may run in time
    on a smaller history, so it gets 422, and a client can tell "rewrite the query"
    (400) from "narrow it" (422) by the status alone.
    """
    return ApiError(422 if isinstance(exc, search.SearchTimeout) else 400, str(exc))


def _stamp(value: Any) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def register(api: RestApi) -> None:
    """Add the history routes to ``api``."""

    @api.operation(
        "GET",
        "/V1/async_event_logs",
        summary="Search delivery history (Lucene syntax)",
        tag="history",
        permission="logs_list",
        query=LogQuery,
        responses={200: LogPage},
        errors=(400, 422),
    )
    def search_logs(query: LogQuery) -> LogPage:
        try:
            page = search.search(query.q, page_size=query.page_size, cursor=query.cursor)
        except (QuerySyntaxError, search.CursorError) as exc:
            raise refused(exc) from None
        items = [entry(hit.log, hit.event_name) for hit in page.rows]
        return LogPage(
            items=items,
            next_cursor=page.next_cursor,
            search_engine=page.engine,
            search_notice=page.notice,
        )

    @api.operation(
        "GET",
        "/V1/async_event_logs/<uuid:uuid>",
        summary="Trace a delivery chain",
        tag="history",
        permission="logs_trace",
        responses={200: TraceOut},
        errors=(404,),
    )
    def trace_chain(uuid: UUID) -> TraceOut:
        found = trace.trace(str(uuid))
        if found is None:
            raise ApiError(404, TRACE_GONE, [str(uuid)])
        sub = found.subscription
        return TraceOut(
            uuid=found.uuid,
            status=found.status,
            first_attempt=_stamp(found.first_attempt),
            last_attempt=_stamp(found.last_attempt),
            payload=found.payload,
            subscription=None
            if sub is None
            else {
                "subscription_id": sub.subscription_id,
                "event_name": sub.event_name,
                "recipient_url": sub.recipient_url,
                "status": sub.status,
                "subscribed_at": _stamp(sub.subscribed_at),
            },
            attempts=[entry(row, sub.event_name if sub else None) for row in found.attempts],
        )

    @api.operation(
        "POST",
        "/V1/async_event_logs/<uuid:uuid>/replay",
        summary="Replay one chain",
        tag="history",
        permission="logs_replay",
        responses={202: ReplayOne},
        errors=(404,),
    )
    def replay_chain(uuid: UUID) -> tuple[ReplayOne, int]:
        chain_id = replay.replay(str(uuid))
        if chain_id is None:
            raise ApiError(404, TRACE_GONE, [str(uuid)])
        return ReplayOne(uuid=str(uuid), chain_id=chain_id), 202

    @api.operation(
        "POST",
        "/V1/async_event_logs/replay",
        summary="Replay every chain matching a search",
        tag="history",
        permission="logs_replay",
        body=BulkReplayRequest,
        responses={200: BulkReplayResult, 202: BulkReplayResult},
        errors=(400, 415, 422),
    )
    def replay_matching(body: BulkReplayRequest) -> tuple[BulkReplayResult, int]:
        try:
            with search.time_budget():  # one budget for the count's every batch
                count = replay.count_matching(body.q)
        except QuerySyntaxError as exc:
            raise refused(exc) from None
        if body.dry_run:
            return BulkReplayResult(count=count, dry_run=True), 200
        queues.enqueue_job(REPLAY_JOB, body.q, timeout=current_app.config["DELIVERY_JOB_TIMEOUT"])
        return BulkReplayResult(count=count, dry_run=False), 202
