"""Runtime settings kept in the database, typed and validated, read fresh at each decision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Setting

_TRUE = {"1", "true", "yes", "on", "enabled"}
_FALSE = {"0", "false", "no", "off", "disabled"}


@dataclass(frozen=True)
class SettingSpec:
    """The type, default, bounds and label of one setting."""

    key: str
    kind: type
    default: Any
    label: str
    minimum: int | None = None
    maximum: int | None = None  # a bound that keeps the value inside what workers can compute

    def parse(self, raw: Any) -> Any:
        """Turn text or a value into the setting's type, or raise ValueError saying why."""
        if self.kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(f"{self.key} must be true or false, got {raw!r}")
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValueError(f"{self.key} must be a whole number, got {raw!r}") from None
        if isinstance(value, bool) or (self.minimum is not None and value < self.minimum):
            raise ValueError(f"{self.key} must be a whole number >= {self.minimum}, got {raw!r}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.key} must be at most {self.maximum}, got {raw!r}")
        return value


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in (
        SettingSpec("max_deaths", int, 5, "Maximum Deaths", minimum=0, maximum=1000),
        SettingSpec("max_backoff", int, 60, "Maximum backoff (seconds)", minimum=1, maximum=86400),
        SettingSpec("indexing_enabled", bool, True, "Enable Asynchronous Events Indexing"),
        SettingSpec("log_cleanup_enabled", bool, False, "Subscriber Log Cleanup"),
        SettingSpec("log_lifetime_days", int, 30, "Log Lifetime (Days)", minimum=0, maximum=36500),
        SettingSpec("legacy_payload", bool, False, 'Send the legacy {"data": ...} body'),
    )
}


def _spec(key: str) -> SettingSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise KeyError(f"unknown setting {key!r}; known settings: {', '.join(SPECS)}") from None


def get(key: str) -> Any:
    """The current value of a setting, or its default."""
    return get_many(key)[0]


_VALUES = sa.select(Setting.key, Setting.value).where(
    Setting.key.in_(sa.bindparam("keys", expanding=True))
)  # built once: the recorder reads settings for every batch


def get_many(*keys: str) -> list[Any]:
    """The current values of several settings, in one query."""
    specs = [_spec(key) for key in keys]
    stored = dict(db.session.execute(_VALUES, {"keys": list(keys)}).all())
    return [s.parse(stored[s.key]) if s.key in stored else s.default for s in specs]


def set(key: str, raw: Any) -> Any:
    """Validate and store a setting; takes effect at the next decision, no restart needed."""
    spec = _spec(key)
    value = spec.parse(raw)
    text = ("true" if value else "false") if spec.kind is bool else str(value)
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=text))
    else:
        row.value = text
    db.session.commit()
    return value


def all_settings() -> dict[str, Any]:
    """Every setting with its current value."""
    stored = {row.key: row.value for row in db.session.scalars(db.select(Setting))}
    return {k: (s.parse(stored[k]) if k in stored else s.default) for k, s in SPECS.items()}
