"""`membook import members` and `membook export members`: the register's file doors.

The commands run as the system on the server (like `membook user add`), call
the same services as the UI and print the same report. An import with bad
rows prints the report and then refuses on one line (exit 1); nothing is
written unless every row is good.
"""

from __future__ import annotations

from pathlib import Path

import click

from membook_app.db import session_scope
from membook_app.errors import ValidationError

STATUSES = ("active", "resigned", "ended", "deemed_resigned", "all")


@click.group("import")
def import_group() -> None:
    """Tuonnit / imports."""


@import_group.command("members")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name.")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--map", "overrides", multiple=True, metavar="HEADER=FIELD",
              help="Map a column by hand (FIELD empty = skip it); repeatable.")
def import_members(file: Path, org_ref: str, dry_run: bool, overrides: tuple[str, ...]) -> None:
    """Tuo jäsenet Excel- tai CSV-tiedostosta / import members from .xlsx or .csv."""
    from membook_app.register import importer
    from membook_app.register.importer_read import read_path
    from membook_app.register.organizations import find_organization

    table = read_path(file)
    with session_scope() as session:
        org = find_organization(session, org_ref)
        mapping = importer.suggest_mapping(session, org.id, table.headers)  # type: ignore[arg-type]
        for item in overrides:
            header, sep, key = item.partition("=")
            if not sep or header.strip() not in table.headers:
                raise click.UsageError(f"--map {item!r}: no column {header.strip()!r} in the file")
            mapping[table.headers.index(header.strip())] = key.strip()
        click.echo(f"{org.name}: {file.name}")
        for header, key in zip(table.headers, mapping, strict=True):
            click.echo(f"  {header} -> {key or '-'}")
        report = importer.dry_run(session, None, org.id, table, mapping)  # type: ignore[arg-type]
        if report.ok and not dry_run:
            report = importer.run_import(session, None, org.id, table,  # type: ignore[arg-type]
                                         mapping, filename=file.name)
    for line in importer.format_report(report):
        click.echo(line)
    if report.limit_fi:
        raise ValidationError(report.limit_fi, report.limit_en)
    if report.error_rows:
        raise ValidationError(
            f"{report.error_rows} virheellistä riviä; mitään ei tallennettu",
            f"{report.error_rows} rows with errors; nothing was written")


@click.group("export")
def export_group() -> None:
    """Viennit / exports."""


@export_group.command("members")
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write (.xlsx, or .csv with --csv).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (UTF-8 with BOM, ';') instead of .xlsx.")
@click.option("--status", type=click.Choice(STATUSES), default="active", show_default=True)
@click.option("--sub/--no-sub", "include_sub", default=True, show_default=True,
              help="Include the sub-organisations' members.")
@click.option("--search", default="", help="The register's search words.")
@click.option("--columns", default="", help="Comma-separated column keys (default: all).")
def export_members_cmd(org_ref: str, out: Path, as_csv: bool, status: str, include_sub: bool,
                       search: str, columns: str) -> None:
    """Vie jäsenrekisteri Exceliin / export the register to .xlsx or CSV."""
    from membook_app.register.exporter import export_members
    from membook_app.register.organizations import find_organization
    from membook_app.register.search import RegisterQuery

    fmt = "csv" if as_csv or out.suffix.lower() == ".csv" else "xlsx"
    with session_scope() as session:
        org = find_organization(session, org_ref)
        query = RegisterQuery(organization_id=org.id,  # type: ignore[arg-type]
                              include_suborganizations=include_sub, search=search,
                              status=None if status == "all" else status)
        keys = [k.strip() for k in columns.split(",") if k.strip()] or None
        result = export_members(session, None, query, out, columns=keys, fmt=fmt)
    click.echo(f"{result.rows} riviä / rows -> {out}")


COMMANDS = [import_group, export_group]
