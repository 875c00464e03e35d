"""The operations CLI, ``flask --app wsgi <command>``.

May import: the use cases and every layer below them; never the REST API or the dashboard.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every command on the app's CLI."""
    from app.cli import admin, delivery, reindex, search, worker

    for module in (admin, delivery, worker, reindex, search):
        for command in module.COMMANDS:
            app.cli.add_command(command)
