"""/admin/escrow: the operator's escrow reconciliation — the expected balance from the
books, the latest camt.053 closing balance, and the difference line by line
(`membook_app.settlements.reconciliation`) — and the refunds to pay back (payments marked
for refund and credit paid back to payers), where the operator records the day a refund
was paid (`membook_app.payments.refunds`)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_date, money, number
from membook_app.payments.bank_import import helsinki_today
from membook_app.payments.refunds import (
    list_refunds,
    mark_credit_refund_paid,
    mark_refund_paid,
)
from membook_app.register.validation import parse_date
from membook_app.settlements.reconciliation import Amount, reconcile
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import UiState, t

nav_item("/admin/escrow", "scale", "Asiakasvaratili", "Escrow account", order=440,
         operator_only=True)


@dataclasses.dataclass
class AmountView:
    key: str
    fi: str
    en: str
    amount: str
    count: str


@dataclasses.dataclass
class RefundView:
    key: str
    payment_id: int  # 0 for a credit refund
    credit_refund_id: int  # 0 for a payment marked for refund
    booked: str
    amount: str
    payer: str
    iban: str
    message: str
    paid_on: str  # empty while still owed


def _view(amount: Amount, sign: int = 1) -> AmountView:
    return AmountView(amount.key, amount.fi, amount.en, money(sign * amount.cents),
                      number(amount.count) if amount.count else "")


class EscrowState(StaffState):
    as_of: str = ""
    day: str = ""
    terms: list[AmountView] = []
    expected: str = ""
    has_statement: bool = False
    statement: str = ""
    closing: str = ""
    difference: str = ""
    explained: list[AmountView] = []
    unexplained: str = ""
    balanced: bool = False
    paytrail: list[AmountView] = []
    refunds: list[RefundView] = []
    refund_day: str = ""

    def _load(self) -> None:
        with session_scope() as session:
            r = reconcile(session, current_actor(), parse_date(self.as_of, "as_of"))
            refunds = list_refunds(session, current_actor())
        self.refunds = [RefundView(f"c{x.credit_refund_id}" if x.credit_refund_id
                                   else f"p{x.payment_id}", x.payment_id or 0,
                                   x.credit_refund_id or 0, fi_date(x.booking_date),
                                   money(x.amount_cents), x.payer_name, x.payer_iban,
                                   x.message, fi_date(x.refunded_on) if x.refunded_on else "")
                        for x in refunds]
        self.refund_day = self.refund_day or fi_date(helsinki_today())
        self.day = fi_date(r.as_of)
        self.terms = [*[_view(a) for a in r.received], _view(r.settled, -1),
                      _view(r.fees, -1), *[_view(a, -1) for a in r.refunds]]
        self.expected = money(r.expected_cents)
        self.has_statement = r.statement is not None
        st = r.statement
        self.statement = (f"{st.filename} · {st.iban or ''} · {fi_date(st.closing_date)}"
                          if st else "")
        self.closing = money(st.closing_cents) if st else ""
        self.difference = money(r.difference_cents)
        self.explained = [_view(a) for a in r.explained]
        self.unexplained = money(r.unexplained_cents)
        self.balanced = r.unexplained_cents == 0
        p = r.paytrail
        self.paytrail = [
            AmountView("booked", "Verkkomaksut kirjattu (Paytrailin ilmoitukset)",
                       "Online payments booked (Paytrail callbacks)", money(p.booked_cents),
                       number(p.booked_count)),
            AmountView("payouts", "Paytrailin tilitykset tilille", "Paytrail payouts received",
                       money(p.payout_cents), number(p.payout_count)),
            AmountView("gap", "Paytraililla vielä tai Paytrailin palkkiot",
                       "Still at Paytrail, or Paytrail's fees", money(p.gap_cents), ""),
        ]

    @rx.event
    @guarded("operator")
    def load(self) -> None:
        self._load()

    @rx.event
    @guarded("operator")
    def set_as_of(self, value: str) -> None:
        """Reconcile as of another day (d.m.yyyy; empty: today)."""
        self.as_of = str(value)[:20]
        self._load()

    @rx.event
    @guarded("operator")
    def set_refund_day(self, value: str) -> None:
        """The day the next refund marked paid was paid back (d.m.yyyy)."""
        self.refund_day = str(value)[:20]

    @rx.event
    @guarded("operator")
    def refund_paid(self, payment_id: int) -> None:
        """Record that this refund was paid back on the chosen day (audited)."""
        day = parse_date(self.refund_day, "paid_on") or helsinki_today()
        with session_scope() as session:
            mark_refund_paid(session, current_actor(), int(payment_id), day)
        self._load()

    @rx.event
    @guarded("operator")
    def credit_refund_paid(self, credit_refund_id: int) -> None:
        """Record that this credit refund was paid back on the chosen day (audited)."""
        day = parse_date(self.refund_day, "paid_on") or helsinki_today()
        with session_scope() as session:
            mark_credit_refund_paid(session, current_actor(), int(credit_refund_id), day)
        self._load()


def _amount_row(row: AmountView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(UiState.lang == "en", row.en, row.fi)),
        rx.table.cell(row.count, text_align="right"),
        rx.table.cell(row.amount, text_align="right"), key=row.key, id=f"escrow-{row.key}",
    )


def _table(rows: rx.Var, table_id: str, total_label: rx.Var | None = None,
           total: rx.Var | None = None) -> rx.Component:
    """Amounts with their counts, and a bold total row when there is one."""
    total_row = [] if total is None else [rx.table.row(
        rx.table.cell(rx.text(total_label, weight="bold")), rx.table.cell(""),
        rx.table.cell(rx.text(total, weight="bold"), text_align="right",
                      id=f"{table_id}-total"))]
    return rx.table.root(
        rx.table.header(rx.table.row(
            rx.table.column_header_cell(t("Erä", "Item")),
            rx.table.column_header_cell(t("Kpl", "Count")),
            rx.table.column_header_cell(t("Summa", "Amount")))),
        rx.table.body(rx.foreach(rows, _amount_row), *total_row),
        size="1", variant="surface", id=table_id, width="100%", max_width="50em",
    )


def _refund_row(row: RefundView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.booked), rx.table.cell(row.payer),
        rx.table.cell(rx.text(row.iban, size="1")), rx.table.cell(rx.text(row.message, size="1")),
        rx.table.cell(row.amount, text_align="right"),
        rx.table.cell(rx.cond(
            row.paid_on != "", rx.text(row.paid_on),
            rx.cond(row.credit_refund_id > 0,
                    rx.button(t("Merkitse palautetuksi", "Mark paid back"), size="1",
                              variant="soft",
                              on_click=EscrowState.credit_refund_paid(row.credit_refund_id),
                              id=f"credit-refund-paid-{row.credit_refund_id}"),
                    rx.button(t("Merkitse palautetuksi", "Mark paid back"), size="1",
                              variant="soft", on_click=EscrowState.refund_paid(row.payment_id),
                              id=f"refund-paid-{row.payment_id}")))),
        key=row.key, id=rx.cond(row.credit_refund_id > 0,
                                f"credit-refund-{row.credit_refund_id}",
                                f"refund-{row.payment_id}"),
    )


def _refunds() -> rx.Component:
    s = EscrowState
    return rx.vstack(
        rx.heading(t("Palautukset maksajille", "Refunds to payers"), size="4"),
        rx.text(t("Kun olet maksanut palautuksen pankissa, merkitse se palautetuksi sinä "
                  "päivänä: täsmäytys ei sen jälkeen odota rahaa tilille.",
                  "When you have paid a refund back in the bank, mark it paid on that day: "
                  "the reconciliation then no longer expects the money in the account."),
                size="2"),
        rx.hstack(
            rx.text(t("Palautuspäivä", "Day paid back"), size="2"),
            rx.input(placeholder="p.k.vvvv", value=s.refund_day, width="9em",
                     id="refund-day", on_change=s.set_refund_day),
            align="center"),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in (
                t("Kirjattu", "Booked"), t("Maksaja", "Payer"), t("IBAN", "IBAN"),
                t("Viesti", "Message"), t("Summa", "Amount"),
                t("Palautettu", "Paid back"))])),
            rx.table.body(rx.foreach(s.refunds, _refund_row)),
            size="1", variant="surface", id="escrow-refunds"),
            overflow_x="auto", width="100%", max_width="60em"),
        width="100%", spacing="2",
    )


@admin_page("/admin/escrow", "asiakasvaratili / escrow", on_load=[EscrowState.load])
def escrow_view() -> rx.Component:
    s = EscrowState
    return rx.vstack(
        page_title(t("Asiakasvaratilin täsmäytys", "Escrow reconciliation")),
        rx.hstack(
            rx.text(t("Päivä", "As of"), size="2"),
            rx.input(placeholder="p.k.vvvv", default_value=s.as_of, width="9em",
                     id="escrow-as-of", on_blur=s.set_as_of),
            rx.text(s.day, size="2", id="escrow-day"),
            align="center",
        ),
        rx.heading(t("Kirjanpidon mukaan", "According to the books"), size="4"),
        _table(s.terms, "escrow-terms", t("Odotettu saldo", "Expected balance"), s.expected),
        rx.cond(s.has_statement, rx.vstack(
            rx.heading(t("Tiliote", "Bank statement"), size="4"),
            rx.text(s.statement, size="2", id="escrow-statement"),
            rx.hstack(rx.text(t("Loppusaldo", "Closing balance")),
                      rx.text(s.closing, weight="bold", id="escrow-closing")),
            rx.hstack(rx.text(t("Ero (tiliote − odotettu)", "Difference (statement − expected)")),
                      rx.text(s.difference, weight="bold", id="escrow-difference")),
            _table(s.explained, "escrow-explained", t("Selittämättä", "Not explained"),
                   s.unexplained),
            rx.cond(s.balanced,
                    rx.callout(t("Ero on selitetty kokonaan.", "The difference is explained."),
                               color_scheme="green", icon="check"),
                    rx.callout(t("Osa erosta on selittämättä: puuttuuko pankkitiedosto?",
                                 "Part of the difference is unexplained: is a bank file "
                                 "missing?"), color_scheme="orange", icon="triangle_alert")),
            width="100%", spacing="2",
        ), rx.callout(t("Tiliotetta (camt.053) ei ole vielä tuotu.",
                        "No bank statement (camt.053) has been imported yet."),
                      color_scheme="orange", icon="info")),
        rx.heading("Paytrail", size="4"),
        _table(s.paytrail, "escrow-paytrail"),
        rx.cond(s.refunds.length() > 0, _refunds()),  # type: ignore[attr-defined]
        spacing="3", width="100%",
    )
