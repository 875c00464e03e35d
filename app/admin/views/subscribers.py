"""Subscribers: the original's grid, mass Enable/Disable, add/edit and token rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BooleanEqualFilter, DateBetweenFilter, FilterLike
from flask_admin.model import typefmt
from flask_admin.model.base import ViewArgs
from markupsafe import Markup

from app.admin.views.base import ID32, SecuredModelView, row_id, row_ids
from app.admin.views.subscriber_form import SubscriberForm
from app.extensions import db
from app.models import Subscription
from app.usecases import subscription_edits
from app.usecases.subscriptions import SubscriptionError

SAVED = "The Asynchronous Event Subscriber data was saved successfully"
NOT_SAVED = "Could not save Asynchronous Event Subscriber."
S = Subscription
MAX_SEARCH = 1000  # characters in the keyword search or a filter (SQLite's LIKE stops at 50,000)
MAX_PAGE = 10**6  # 0-based page numbers; a larger one is an empty page, not a huge OFFSET


class StatusFilter(BooleanEqualFilter):
    """Enabled or Disabled, compared as a boolean (PostgreSQL refuses a boolean = text)."""

    def __init__(self, column: Any, name: str) -> None:
        super().__init__(column, name)
        self.options = (("1", "Enabled"), ("0", "Disabled"))


def _status(view: Any, context: Any, model: Subscription, name: str) -> Markup:
    label, css = ("Enabled", "badge-success") if model.status else ("Disabled", "badge-secondary")
    return Markup('<span class="badge {}">{}</span>').format(css, label)


def _when(view: Any, value: datetime, name: str) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


class SubscriberView(SecuredModelView):
    """Asynchronous Event Subscribers; viewing needs ``view``, every change needs ``save``."""

    permission = "view"
    list_template = "admin/subscribers/list.html"
    column_list = [
        "subscription_id",
        "event_name",
        "recipient_url",
        "status",
        "subscribed_at",
        "modified",
    ]
    column_labels = {
        "subscription_id": "ID",
        "event_name": "Event Name",
        "recipient_url": "Recipient URL",
        "subscribed_at": "Subscribed At",
    }
    column_default_sort = ("subscription_id", False)
    column_sortable_list = column_list
    column_searchable_list = ["event_name", "recipient_url"]
    column_filters = [
        FilterLike(S.event_name, "Event Name"),
        FilterLike(S.recipient_url, "Recipient URL"),
        StatusFilter(S.status, "Status"),
        DateBetweenFilter(S.subscribed_at, "Subscribed At"),
        DateBetweenFilter(S.modified, "Modified"),
    ]
    column_formatters = {"status": _status}
    column_type_formatters = {**typefmt.BASE_FORMATTERS, datetime: _when}
    can_view_details = False

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self.allowed("save")

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self.allowed("save")

    @property
    def column_display_actions(self) -> bool:  # type: ignore[override]
        return self.allowed("save")  # the only row action is Edit

    def is_action_allowed(self, name: str) -> bool:
        return self.allowed("save") and super().is_action_allowed(name)

    def search_placeholder(self) -> str:
        return "Search by keyword"

    def _get_list_extra_args(self) -> ViewArgs:
        """Flask-Admin's list arguments, refused when too long and with the page bounded."""
        args = super()._get_list_extra_args()
        texts = [args.search or "", *(str(value) for *_, value in args.filters or [])]
        if any(len(text) > MAX_SEARCH for text in texts):
            abort(400, f"A search or filter is longer than {MAX_SEARCH} characters.")
        return args.clone(page=min(max(args.page or 0, 0), MAX_PAGE))

    @action("disable", "Disable", "Are you sure you want to disable the selected events?")
    def action_disable(self, ids: list[str]) -> None:
        self._set_many(ids, enabled=False)

    @action("enable", "Enable", "Are you sure you want to enable the selected events?")
    def action_enable(self, ids: list[str]) -> None:
        self._set_many(ids, enabled=True)

    def _set_many(self, ids: list[str], enabled: bool) -> None:
        self.require("save")
        word = "enabled" if enabled else "disabled"
        changed, already = subscription_edits.set_many(row_ids(ids), enabled)
        if changed:
            flash(f"A total of {changed} event(s) have been {word}.", "success")
        if already:
            flash(f"A total of {already} event(s) are already {word}.", "info")

    @expose("/action/", methods=("POST",))
    def action_view(self) -> ResponseReturnValue:
        """Mass actions are refused outright without ``save``, not bounced with a flash."""
        self.require("save")
        return super().action_view()

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self) -> ResponseReturnValue:
        self.require("save")
        form = SubscriberForm()
        if form.validate_on_submit():
            try:
                sub, token = subscription_edits.create(**form.values())
            except SubscriptionError as exc:
                form.refuse(exc)
            else:
                flash(SAVED, "success")
                return self._token_page(sub, token, created=True)
        return self._form_page(form, None)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self) -> ResponseReturnValue:
        self.require("save")
        key = row_id(request.args.get("id"))
        sub = db.session.get(Subscription, key) if key is not None else None
        if sub is None:
            abort(404)
        form = SubscriberForm(obj=sub)
        if form.validate_on_submit():
            try:
                subscription_edits.edit(sub.subscription_id, **form.values())
            except SubscriptionError as exc:
                form.refuse(exc)
            else:
                flash(SAVED, "success")
                return redirect(self.get_url(".index_view"))
        return self._form_page(form, sub)

    @expose(f"/rotate/<{ID32}:subscription_id>", methods=("POST",))
    def rotate_view(self, subscription_id: int) -> ResponseReturnValue:
        """Rotate the verification token (POST with CSRF: the app checks every POST)."""
        self.require("save")
        sub = db.session.get(Subscription, subscription_id) or abort(404)
        token = subscription_edits.rotate_token(subscription_id)
        flash("A new verification token was generated.", "success")
        return self._token_page(sub, token, created=False)

    def _form_page(self, form: SubscriberForm, sub: Subscription | None) -> ResponseReturnValue:
        if form.is_submitted() and form.errors:
            db.session.rollback()
            flash(NOT_SAVED, "error")
        return self.render("admin/subscribers/form.html", form=form, sub=sub)

    def _token_page(self, sub: Subscription, token: str, created: bool) -> ResponseReturnValue:
        """The one page that ever shows this token; it is not cached (see security.py)."""
        return self.render("admin/subscribers/token.html", sub=sub, token=token, created=created)
