"""Operational commands: database, demo data, users, the worker, settings."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from membook_app.db import session_scope
from membook_app.settings import REPO_ROOT, Settings, get_settings


@click.group()
def db() -> None:
    """Tietokanta / database."""


def upgrade_database(url: str | None = None) -> None:
    """Migrate the database to the newest schema and make sure the plans exist."""
    from alembic.config import Config

    from alembic import command
    from membook_app.register.plans import ensure_plans

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    if url:
        config.attributes["database_url"] = url
    command.upgrade(config, "head")
    with session_scope(url) as session:
        ensure_plans(session)


@db.command("upgrade")
def db_upgrade() -> None:
    """Päivitä skeema / migrate the database named by DATABASE_URL to the newest schema."""
    upgrade_database()
    click.echo("tietokanta ajan tasalla / database at head")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has data.")
@click.option("--people", default=2000, show_default=True, type=click.IntRange(1, 200_000))
def seed_demo_cmd(if_empty: bool, people: int) -> None:
    """Lataa demoaineisto / load the demo association tree into an empty database."""
    from membook_app.demo.seed import database_is_empty, seed_demo

    with session_scope() as session:
        if not database_is_empty(session):
            if if_empty:
                click.echo("tietokannassa on jo dataa / database already has data")
                return
            raise click.ClickException(
                "tietokannassa on jo dataa; demoaineisto ladataan vain tyhjään kantaan / "
                "the database already has data; demo data goes only into an empty one")
        counts = seed_demo(session, people=people)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@click.command("demo-logins")
def demo_logins_cmd() -> None:
    """Tulosta demotunnukset / print the demo logins."""
    from membook_app.demo.seed import DEMO_PASSWORD, demo_logins

    click.echo(f"Demotunnukset / demo logins (salasana / password: {DEMO_PASSWORD}):")
    for login in demo_logins():
        click.echo(f"  {login.email:<36} {login.role}")


@click.group()
def user() -> None:
    """Käyttäjät / users."""


@user.command("add")
@click.argument("email")
@click.option("--org", "org_ref", help="Organisation id or exact name.")
@click.option("--role", type=click.Choice(["admin", "treasurer", "viewer", "operator"]),
              required=True)
@click.option("--password", help="Set a password (otherwise the user signs in by email link).")
def user_add(email: str, org_ref: str | None, role: str, password: str | None) -> None:
    """Lisää käyttäjä ja rooli / add a user with a role on an organisation."""
    from membook_app.accounts.users import get_or_create_user, grant_role
    from membook_app.register.organizations import find_organization

    if role != "operator" and not org_ref:
        raise click.UsageError("--org is required for the roles admin, treasurer and viewer")
    with session_scope() as session:
        account = get_or_create_user(session, None, email, password=password,
                                     is_operator=role == "operator")
        if role != "operator":
            org = find_organization(session, org_ref or "")
            grant_role(session, None, account, org.id, role)  # type: ignore[arg-type]
            click.echo(f"{account.email}: {role} @ {org.name}")
        else:
            click.echo(f"{account.email}: operator")


@click.command()
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 32))
def worker(workers: int) -> None:
    """Käynnistä taustatyöt / run the Huey consumer (mail, imports, schedules)."""
    from huey.consumer import Consumer

    from tasks.registry import huey

    # Without a handler the consumer is silent about what it runs and why a task failed.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Consumer(huey, workers=workers, worker_type="thread", periodic=True).run()


@click.command("settings")
@click.option("--markdown", is_flag=True, help="Print the README's settings table.")
def settings_cmd(markdown: bool) -> None:
    """Asetukset / print every setting with its current value (or the README table)."""
    current = get_settings()
    if markdown:
        click.echo("| name | default | meaning |\n| --- | --- | --- |")
    for name, field in Settings.model_fields.items():
        if markdown:
            default = field.default
            if isinstance(default, Path):
                default = "var/ (repo root)"
            shown = "(generated)" if name == "secret_key" else (default if default not in ("", None)
                                                                 else "(unset)")
            click.echo(f"| `{name.upper()}` | `{shown}` | {field.description} |")
        else:
            value = getattr(current, name)
            if name in ("secret_key", "smtp_password", "paytrail_secret") and value:
                value = "***"
            click.echo(f"{name.upper()}={value}")


COMMANDS = [db, seed_demo_cmd, demo_logins_cmd, user, worker, settings_cmd]
