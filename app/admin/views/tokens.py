"""API tokens: list, create (shown once) and revoke the REST API's bearer tokens."""

from __future__ import annotations

from flask import abort, flash, redirect
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.admin.views.base import ID32, SecuredView
from app.usecases import access

LABELS = {
    "manage": "manage: everything",
    "view": "view: read subscriptions",
    "save": "save: create and change subscriptions",
    "logs_list": "logs_list: search delivery history",
    "logs_trace": "logs_trace: read a trace",
    "logs_replay": "logs_replay: replay deliveries",
    "publish": "publish: publish events",
}


class TokenForm(FlaskForm):
    """A name to recognise the token by, and the permissions it grants."""

    name = StringField("Name", validators=[DataRequired(), Length(max=150)])
    permissions = SelectMultipleField(
        "Permissions",
        choices=[SelectChoice(p, LABELS.get(p, p)) for p in access.PERMISSIONS],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired(message="Choose at least one permission.")],
    )


class TokensView(SecuredView):
    """The REST API's bearer tokens; only ``manage`` may see or change them."""

    permission = "manage"

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        form = TokenForm()
        if form.validate_on_submit():
            try:
                row, token = access.create_token(form.name.data.strip(), form.permissions.data)
            except access.AccessError as exc:
                form.permissions.errors = [str(exc)]
            else:
                flash(f"Token {row.name!r} was created.", "success")
                return self.render(
                    "admin/tokens.html",
                    form=TokenForm(formdata=None),
                    tokens=access.list_tokens(),
                    new=(row, token),
                )
        return self.render("admin/tokens.html", form=form, tokens=access.list_tokens(), new=None)

    @expose(f"/revoke/<{ID32}:token_id>", methods=("POST",))
    def revoke(self, token_id: int) -> ResponseReturnValue:
        """Deactivate a token (POST with CSRF); requests with it get a 401 from then on."""
        row = access.revoke_token(token_id) or abort(404)
        flash(f"Token {row.name!r} was revoked.", "success")
        return redirect(self.get_url(".index"))
