"""The Flask extensions, created unbound; ``create_app`` binds them with ``init_app``."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for every model."""


# Objects stay readable after commit: re-loading them would open a new transaction,
# and on SQLite every transaction takes the write lock (see app/db/sqlite.py).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
