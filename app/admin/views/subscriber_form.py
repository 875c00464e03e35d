"""The subscriber add/edit form: selects fed by the event definitions and the sink registry."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from app.events import get_registry
from app.models.stores import MAX_STORE_ID
from app.sinks import sink_label, sink_names
from app.usecases.subscriptions import MAX_RECIPIENT, SubscriptionError


class SubscriberForm(FlaskForm):
    """The original's add-on form; there is no token field: the token is generated."""

    event_name = SelectField("Event Name", validators=[InputRequired()])
    recipient_url = StringField(
        "Recipient URL",
        validators=[InputRequired(), Length(max=MAX_RECIPIENT)],
        description=(
            "An http(s) URL for HTTP and Event Grid; an ARN or a queue URL for AWS; "
            "projects/P/topics/T for Pub/Sub; an amqp://, nats:// or mqtt:// URL for the "
            "brokers. A password in the URL is kept encrypted and never shown again."
        ),
    )
    status = BooleanField("Enabled", default=True)
    sink = SelectField("Notifier", default="http")
    store_id = IntegerField(
        "Store",
        default=0,
        validators=[InputRequired(), NumberRange(min=0, max=MAX_STORE_ID)],
        description="0 = All Stores.",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.event_name.choices = sorted(get_registry().names())
        self.sink.choices = [SelectChoice(n, sink_label(n)) for n in sink_names()]

    def values(self) -> dict[str, object]:
        """The fields as the subscription services take them."""
        return {
            "event_name": self.event_name.data,
            "recipient_url": (self.recipient_url.data or "").strip(),
            "enabled": bool(self.status.data),
            "sink": self.sink.data,
            "store_id": self.store_id.data,
        }

    def refuse(self, error: SubscriptionError) -> None:
        """Show a service's refusal beside the field it is about."""
        text = str(error)
        field = next(
            (f for key, f in _FIELD_HINTS if text.startswith(key)),
            "recipient_url",
        )
        getattr(self, field).errors = [*getattr(self, field).errors, text]


_FIELD_HINTS = (("unknown event", "event_name"), ("unknown sink", "sink"), ("store_id", "store_id"))
