"""CLI for administration: subscriptions, users, API tokens and runtime settings."""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext

from app import settings
from app.usecases import access, subscriptions


@click.command("subscribe")
@click.argument("event_name")
@click.argument("recipient")
@click.option("--token", required=True, help="Verification token that signs every delivery.")
@click.option("--sink", default="http", show_default=True, help="Sink key (the 'metadata' column).")
@click.option("--store-id", type=click.IntRange(min=0), default=0, show_default=True)
@with_appcontext
def subscribe_command(
    event_name: str, recipient: str, token: str, sink: str, store_id: int
) -> None:
    """Subscribe RECIPIENT to EVENT_NAME."""
    try:
        sub = subscriptions.create(event_name, recipient, token, sink=sink, store_id=store_id)
    except subscriptions.SubscriptionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"subscription {sub.subscription_id}: {event_name} -> {recipient} ({sink})")


@click.command("create-admin")
@click.argument("username", required=False)
@click.option(
    "--password", default=None, help="Default: prompt (or ADMIN_DEFAULT_PASSWORD with --default)."
)
@click.option("--default", "use_default", is_flag=True, help="Use ADMIN_DEFAULT_USERNAME/PASSWORD.")
@click.option("--role", default="admin", show_default=True, type=click.Choice(list(access.ROLES)))
@click.option("--if-missing", is_flag=True, help="Leave an existing user (and its password) alone.")
@with_appcontext
def create_admin_command(
    username: str | None, password: str | None, use_default: bool, role: str, if_missing: bool
) -> None:
    """Create a dashboard user, or reset its password.

    With the default password (``--default``, ADMIN_DEFAULT_PASSWORD), the user must
    choose a new password at the first sign-in before any other page opens.
    """
    from flask import current_app

    if use_default:
        username = username or current_app.config["ADMIN_DEFAULT_USERNAME"]
        password = password or current_app.config["ADMIN_DEFAULT_PASSWORD"]
    if not username:
        raise click.UsageError("give a USERNAME or --default")
    if if_missing and access.find_user(username) is not None:
        click.echo(f"user {username} already exists; left as it is")
        return
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = access.create_user(username, password, role=role)
    except access.AccessError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} ({role}) is ready")
    if user.must_change_password:
        click.echo(f"{username} has the default password: the first sign-in must choose a new one")


@click.command("create-token")
@click.argument("name")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    required=True,
    type=click.Choice(access.PERMISSIONS),
    help="Repeat for several.",
)
@with_appcontext
def create_token_command(name: str, permissions: tuple[str, ...]) -> None:
    """Create a REST bearer token; it is printed once and stored hashed."""
    row, token = access.create_token(name, list(permissions))
    click.echo(token)
    click.echo(
        f"token {row.id} ({name}): {row.permissions}. Store it now: it is not shown again.",
        err=True,
    )


settings_group = AppGroup(
    "settings", help="Runtime settings (Maximum Deaths, backoff, indexing...)."
)


@settings_group.command("get")
@click.argument("key", required=False)
def settings_get(key: str | None) -> None:
    """Print one setting, or all of them."""
    try:
        values = {key: settings.get(key)} if key else settings.all_settings()
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    for k, v in values.items():
        click.echo(f"{k} = {str(v).lower() if isinstance(v, bool) else v}")


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
def settings_set(key: str, value: str) -> None:
    """Set KEY to VALUE, e.g. `settings set max_deaths 3`. Workers pick it up at once."""
    try:
        stored = settings.set(key, value)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key} = {str(stored).lower() if isinstance(stored, bool) else stored}")


COMMANDS = [subscribe_command, create_admin_command, create_token_command, settings_group]
