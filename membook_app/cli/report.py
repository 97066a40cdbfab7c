"""`membook report NAME --org ORG|all [--from …] [--to …] --out FILE.xlsx` and `membook
report --list`: any report as .xlsx from the shell.

Runs as the system on the server (like `membook export members`), through the same report
definition and export as the page. Wrong use exits 2; an unknown report or organisation,
or dates the wrong way round, exit 1 with the reason on stderr.
"""

from __future__ import annotations

from pathlib import Path

import click

from membook_app.cli.billing import _date  # the one YYYY-MM-DD option parser
from membook_app.db import session_scope


@click.command("report")
@click.argument("name", required=False)
@click.option("--list", "list_reports", is_flag=True, help="List the reports and exit.")
@click.option("--org", "org_ref",
              help="Organisation id or exact name (with its subtree), or 'all' for every "
                   "organisation (the operator's view).")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="Start date.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="End date.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="The .xlsx file to write.")
def report_cmd(name: str | None, list_reports: bool, org_ref: str | None,
               date_from: str | None, date_to: str | None, out: Path | None) -> None:
    """Raportti Exceliin / a report as .xlsx (membook report --list: the reports)."""
    from membook_app.register.organizations import find_organization
    from membook_app.reports.registry import Filters, all_reports, get_report
    from membook_app.reports.xlsx import export_report

    if list_reports:
        for report in all_reports():
            only = "  (operaattori / operator)" if report.operator_only else ""
            click.echo(f"{report.name:<22} {report.fi} / {report.en}{only}")
        return
    if not name:
        raise click.UsageError("give a report NAME (membook report --list)")
    if not org_ref:
        raise click.UsageError("missing option --org")
    if out is None:
        raise click.UsageError("missing option --out FILE.xlsx")
    if out.suffix.lower() != ".xlsx":
        raise click.BadParameter(f"{out.name}: the file must end in .xlsx", param_hint="--out")
    start, end = _date(date_from, "--from"), _date(date_to, "--to")
    report = get_report(name)  # an unknown name fails before the database is touched
    ignored = [option for option, key, value in (("--from", "from", start), ("--to", "to", end))
               if value is not None and key not in report.filters]
    if ignored:
        click.echo(f"{name}: {', '.join(ignored)} ei vaikuta tähän raporttiin / "
                   "does not apply to this report", err=True)
    with session_scope() as session:
        # The command runs as the system, which is the operator: "all" is its view of
        # every organisation, as the page's switch is the operator's.
        org_id = None if org_ref.strip().lower() == "all" else find_organization(
            session, org_ref).id
        out.parent.mkdir(parents=True, exist_ok=True)
        rows = export_report(session, None, name, Filters(org_id, start, end), str(out))
    click.echo(f"{name}: {rows} riviä / rows -> {out}")


COMMANDS = [report_cmd]
