"""The `membook` command: operations, imports and runs from the shell.

Every failure ends as one line on stderr and a non-zero exit status: usage
errors exit 2, refused input 1, an unreachable database 3.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from membook_app.errors import DomainError
from membook_app.settings import get_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Membook: jäsenrekisteri ja jäsenlaskutus / membership register and billing."""


def _load_commands() -> None:
    """Add every command module's `COMMANDS`, then `SUBCOMMANDS` ({group name: [commands]}).

    Each capability keeps its commands in its own module under `membook_app/cli/`;
    a module may also hang commands under another module's group
    (`membook bank import` next to `membook bank parse`).
    """
    modules = [importlib.import_module(info.name)
               for info in pkgutil.iter_modules(__path__, __name__ + ".")]
    for module in modules:
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)
    for module in modules:
        for group_name, commands in getattr(module, "SUBCOMMANDS", {}).items():
            group = cli.commands[group_name]
            assert isinstance(group, click.Group), group_name
            for command in commands:
                group.add_command(command)


_load_commands()


def _database_url_problem() -> str | None:
    """Why DATABASE_URL cannot name any database (unparsable, unknown dialect), or None.

    Such a URL never reaches a server, so it is reported like an unreachable
    database (one line, status 3) rather than as SQLAlchemy's traceback.
    """
    try:
        make_url(get_settings().database_url).get_dialect()
    except ArgumentError as exc:
        return str(exc).strip().splitlines()[0]
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command and turn every error into one line on stderr."""
    try:
        result = cli.main(args=argv, prog_name="membook", standalone_mode=False)
    except click.UsageError as exc:
        click.echo(f"membook: {exc.format_message()} (membook --help)", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"membook: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("membook: keskeytetty / aborted", err=True)
        sys.exit(1)
    except DomainError as exc:
        click.echo(f"membook: {exc}", err=True)
        sys.exit(1)
    except OperationalError as exc:
        click.echo(f"membook: tietokantaan ei saada yhteyttä / database unreachable: "
                   f"{str(exc.orig).strip().splitlines()[0]}", err=True)
        sys.exit(3)
    except ArgumentError:
        problem = _database_url_problem()
        if problem is None:
            raise  # a programming error, not the configuration: keep the traceback
        click.echo(f"membook: DATABASE_URL ei kelpaa / invalid DATABASE_URL: {problem}", err=True)
        sys.exit(3)
    except OSError as exc:
        # E.g. the folder for the SQLite file cannot be created: the shell user can act on it.
        click.echo(f"membook: {exc}", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)
