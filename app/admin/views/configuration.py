"""Configuration: the runtime settings workers read at each decision, edited with validation."""

from __future__ import annotations

from flask import flash, redirect
from flask.typing import ResponseReturnValue
from flask_admin import expose
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, IntegerField
from wtforms.validators import InputRequired, NumberRange

from app import settings
from app.admin.views.base import SecuredView

HELP = {
    "max_deaths": "Retries after the first failed attempt before a delivery is dead-lettered.",
    "max_backoff": "The longest wait between two retries, in seconds (Retry-After aside).",
    "indexing_enabled": "Index delivery logs for the Lucene search of the Logs grid.",
    "log_cleanup_enabled": "Delete logs older than the lifetime below, daily at 01:00 UTC.",
    "log_lifetime_days": "How long delivery logs are kept when cleanup is enabled.",
    "legacy_payload": 'Send the 3.x body {"data": ...} instead of a CloudEvent.',
}


def _field(spec: settings.SettingSpec) -> Field:
    if spec.kind is bool:
        return BooleanField(spec.label, description=HELP.get(spec.key, ""))
    bounds = [NumberRange(min=spec.minimum, max=spec.maximum)]
    return IntegerField(
        spec.label,
        validators=[InputRequired(message="Enter a whole number."), *bounds],
        description=HELP.get(spec.key, ""),
    )


def settings_form() -> FlaskForm:
    """A form with one field per setting, in the order ``settings.SPECS`` lists them."""
    form_class = type(
        "SettingsForm", (FlaskForm,), {k: _field(s) for k, s in settings.SPECS.items()}
    )
    return form_class(data=settings.all_settings())


class ConfigurationView(SecuredView):
    """Stores > Configuration > Async Events in the original; needs ``manage``."""

    permission = "manage"

    @expose("/", methods=("GET", "POST"))
    def index(self) -> ResponseReturnValue:
        form = settings_form()
        if form.validate_on_submit():
            for key in settings.SPECS:
                settings.set(key, form[key].data)
            flash(
                "You saved the configuration. Workers apply it from their next decision.", "success"
            )
            return redirect(self.get_url(".index"))
        if form.errors:
            flash("The configuration was not saved: correct the fields marked below.", "error")
        return self.render("admin/configuration.html", form=form)
