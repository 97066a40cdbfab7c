"""`membook invoice-run` and `membook fees …`: billing from the shell (run by the operator).

The command line acts as the system (no signed-in user), like the other
operator commands; the audit trail records "system".
"""

from __future__ import annotations

from datetime import date

import click

from membook_app.billing.fees import CATEGORIES, fee_preview, set_fee
from membook_app.billing.runs import REASONS, RunPreview, SkipGroup, commit_run, preview_run
from membook_app.cli.refs import parse_euros
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import fi_date, money, number
from membook_app.register.organizations import find_organization
from models import MembershipType


def _date(text: str | None, name: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"use YYYY-MM-DD, not {text!r}", param_hint=name) from None


def _print_names(group: SkipGroup) -> None:
    """The group's names (the preview keeps the first 20), then how many more there are."""
    for name in group.sample:
        click.echo(f"    {name}")
    if group.count > len(group.sample):
        more = number(group.count - len(group.sample))
        click.echo(f"    … ja {more} muuta / … and {more} more")


def print_preview(pv: RunPreview) -> None:
    """The preview as a treasurer reads it: counts, shares, who is skipped and why."""
    click.echo(f"Laskuja / invoices: {number(pv.invoice_count)}  "
               f"rivejä / lines: {number(pv.line_count)}  "
               f"yhteensä / total: {money(pv.total_cents)}")
    click.echo(f"Kausi / period: {pv.period}  päiväys / issued: {fi_date(pv.issue_date)}  "
               f"eräpäivä / due: {fi_date(pv.due_date)}")
    for share in pv.shares:
        click.echo(f"  {share.organization:<40} {money(share.amount_cents):>16} "
                   f"({number(share.line_count)})")
    for group in pv.skipped:
        click.echo(f"Ohitettu / skipped – {group.label_fi} / {group.label_en}: "
                   f"{number(group.count)}")
        _print_names(group)
    if pv.paper.count:
        click.echo(f"{REASONS['no_email'][0]} / {REASONS['no_email'][1]}: "
                   f"{number(pv.paper.count)}")
        _print_names(pv.paper)


@click.command("invoice-run")
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name.")
@click.option("--period", required=True, help="Billing period, e.g. 2027.")
@click.option("--due", required=True, help="Due date YYYY-MM-DD.")
@click.option("--issue", default=None, help="Issue date YYYY-MM-DD (default today).")
@click.option("--include-sub/--no-include-sub", default=False,
              help="Also invoice the members of the sub-organisations.")
@click.option("--dry-run", is_flag=True, help="Only print the preview; write nothing.")
def invoice_run(org_ref: str, period: str, due: str, issue: str | None, include_sub: bool,
                dry_run: bool) -> None:
    """Invoice run: preview, and unless --dry-run, write every invoice in one transaction."""
    due_date = _date(due, "--due")
    issue_date = _date(issue, "--issue") or date.today()
    assert due_date is not None
    with session_scope() as session:
        org = find_organization(session, org_ref)
        if dry_run:
            print_preview(preview_run(session, None, org.id, include_sub, period,  # type: ignore[arg-type]
                                      issue_date, due_date))
            return
        result = commit_run(session, None, org.id, include_sub, period,  # type: ignore[arg-type]
                            issue_date, due_date)
    print_preview(result.preview)
    if result.run_id is None:
        click.echo("Ei uusia laskuja / no new invoices")
    else:
        click.echo(f"Laskutusajo / run {result.run_id}: {number(result.created)} laskua / "
                   f"invoices written")


@click.group("fees")
def fees() -> None:
    """Membership fees across the organisation tree."""


@fees.command("show")
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name.")
@click.option("--period", required=True, help="Period, e.g. 2027.")
def fees_show(org_ref: str, period: str) -> None:
    """What a member of each type pays each organisation in the chain."""
    with session_scope() as session:
        org = find_organization(session, org_ref)
        rows = fee_preview(session, None, org.id, period)  # type: ignore[arg-type]
    if not rows:
        click.echo("Ei jäsenlajeja / no membership types")
    for row in rows:
        shares = ", ".join(f"{s.organization} {money(s.amount_cents)}" for s in row.shares)
        click.echo(f"{row.organization} – {row.type_name}: {money(row.total_cents)} ({shares})")


@fees.command("set")
@click.option("--org", "org_ref", required=True, help="Organisation id or exact name.")
@click.option("--period", required=True)
@click.option("--type", "type_name", default=None, help="One of the organisation's own types.")
@click.option("--category", default=None, type=click.Choice(sorted(CATEGORIES)),
              help="Member category (districts and federations charge per category).")
@click.option("--amount", required=True, help="Euros, e.g. 12.50 or 12,50.")
def fees_set(org_ref: str, period: str, type_name: str | None, category: str | None,
             amount: str) -> None:
    """Set the organisation's fee for one of its types or for a member category."""
    try:
        cents = parse_euros(amount)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    with session_scope() as session:
        org = find_organization(session, org_ref)
        type_id = None
        if type_name is not None:
            mt = session.query(MembershipType).filter(
                MembershipType.organization_id == org.id, MembershipType.name == type_name).first()
            if mt is None:
                raise ValidationError(f"Jäsenlajia {type_name!r} ei ole",
                                      f"No membership type {type_name!r}")
            type_id = mt.id
        fee = set_fee(session, None, organization_id=org.id, period=period,  # type: ignore[arg-type]
                      amount_cents=cents, membership_type_id=type_id, category=category)
        click.echo(f"{org.name} {period} {type_name or category}: {money(fee.amount_cents)}")


COMMANDS = [invoice_run, fees]
