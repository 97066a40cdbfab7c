"""/admin/settlement-runs: the operator's weekly settlement (operator only).

The list of runs, "create run now" (the weekly task does the same on the settlement day),
a draft's review per organisation (payments, gross, reversals, fees, carried, payout),
approve (which writes the pain.001 payout file) or discard, and the file's download
(`web/settlement_payout.py`). Every handler is guarded for the operator, and the services
check again (`settlements.runs.require_operator`).
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_date, fi_datetime, money, number
from membook_app.settlements.runs import (
    ESCROW_EXAMPLE_WARNING,
    approve_run,
    create_run,
    discard_run,
    escrow_iban_is_example,
    list_runs,
    pending_count,
    preview_settlement,
    review_run,
)
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t
from models import utcnow

nav_item("/admin/settlement-runs", "hand-coins", "Tilitysajot", "Settlement runs", order=430,
         operator_only=True)

INLINE_MAX = 20_000  # allocations a click may settle inline (about 1 s); more go to the worker
STATUSES = {"draft": "luonnos / draft", "approved": "hyväksytty / approved",
            "carried": "siirtyy / carried"}


@dataclasses.dataclass
class RunRow:
    id: int
    cut_off: str
    status: str
    is_draft: bool
    organizations: str
    payouts: str
    gross: str
    fees: str
    payout: str
    execution: str
    download: str


@dataclasses.dataclass
class ShareRow:
    key: str
    organization: str
    reference: str
    iban: str
    iban_ok: bool
    status: str
    payments: str
    gross: str
    reversals: str
    fees: str
    carried: str
    net: str
    payout: str


def _share_row(key: str, share, reference: str = "", status: str = "",  # type: ignore[no-untyped-def]
               iban_ok: bool = True) -> ShareRow:
    return ShareRow(key, share.organization_name, reference, share.iban or "—", iban_ok,
                    STATUSES.get(status, status), number(share.payment_count),
                    money(share.gross_cents), money(share.reversal_cents),
                    money(share.fee_cents), money(share.carried_in_cents),
                    money(share.net_cents), money(share.payout_cents))


class SettlementRunsState(StaffState):
    runs: list[RunRow] = []
    review_id: int = 0
    review_title: str = ""
    review_is_draft: bool = False
    review_rows: list[ShareRow] = []
    preview_text: str = ""
    preview_rows: list[ShareRow] = []
    message: str = ""
    escrow_example: bool = False  # ESCROW_IBAN is still the built-in example account

    def _load(self) -> None:
        with session_scope() as session:
            runs = list_runs(session, current_actor())
        self.runs = [RunRow(
            r.id, fi_datetime(r.cut_off), STATUSES.get(r.status, r.status),  # type: ignore[arg-type]
            r.status == "draft", number(r.organization_count), number(r.payout_count),
            money(r.gross_cents), money(r.fee_cents), money(r.payout_cents),
            fi_date(r.execution_date),
            f"/api/settlement-runs/{r.id}/payout.xml" if r.payout_xml else "")
            for r in runs]

    def _review(self, run_id: int) -> None:
        with session_scope() as session:
            rows = review_run(session, current_actor(), run_id)
        run = next((r for r in self.runs if r.id == run_id), None)
        self.review_id = run_id
        self.review_is_draft = bool(run and run.is_draft)
        self.review_title = (f"#{run_id} · {run.cut_off} · {run.status}" if run
                             else f"#{run_id}")
        self.review_rows = [_share_row(f"s-{r.settlement_id}", r.share, r.reference, r.status,
                                       r.iban_ok) for r in rows]

    @rx.event
    @guarded("operator")
    def load(self) -> None:
        """The runs; a draft waiting for approval opens for review."""
        self.message, self.preview_rows, self.preview_text = "", [], ""
        self.escrow_example = escrow_iban_is_example()
        self._load()
        draft = next((r for r in self.runs if r.is_draft), None)
        if draft is not None:
            self._review(draft.id)
        else:
            self.review_id, self.review_rows = 0, []

    @rx.event
    @guarded("operator")
    def preview(self) -> None:
        """What a run created now would pay (writes nothing)."""
        with session_scope() as session:
            pv = preview_settlement(session, current_actor())
        self.preview_rows = [_share_row(f"p-{s.organization_id}", s) for s in pv.shares]
        self.preview_text = (f"{number(pv.totals.organization_count)} yhdistystä / organisations"
                             f" · {money(pv.totals.payout_cents)} maksetaan / to pay")

    @rx.event
    @guarded("operator")
    def create_now(self) -> None:
        """Create the draft run with cut-off now and open it for review; a big run (the
        first one after an import of years of payments) is written by the worker."""
        actor = current_actor()
        cut_off = utcnow()
        with session_scope() as session:
            big = pending_count(session, cut_off) > INLINE_MAX
            if not big:
                run_id = create_run(session, actor, cut_off).id
        if big:
            from tasks.settlements import create_settlement_run

            create_settlement_run(actor.user_id, cut_off.isoformat())
            self.message = ("Tilitysajoa luodaan taustalla, päivitä sivu hetken päästä / "
                            "the run is being created in the background, reload shortly")
            return
        self.preview_rows, self.preview_text = [], ""
        self.message = f"Tilitysajo #{run_id} luotu / settlement run created"
        self._load()
        self._review(int(run_id))  # type: ignore[arg-type]

    @rx.event
    @guarded("operator")
    def open_run(self, run_id: int) -> None:
        self._review(int(run_id))

    @rx.event
    @guarded("operator")
    def approve(self, run_id: int) -> None:
        """Approve the draft: the payout file is written and can be downloaded."""
        with session_scope() as session:
            xml = approve_run(session, current_actor(), int(run_id))
        self.message = (f"Tilitysajo #{run_id} hyväksytty / approved"
                        + ("" if xml else ": ei maksettavaa / nothing to pay"))
        self._load()
        self._review(int(run_id))

    @rx.event
    @guarded("operator")
    def discard(self, run_id: int) -> None:
        """Discard the draft: its payments wait for the next run."""
        with session_scope() as session:
            discard_run(session, current_actor(), int(run_id))
        self.message = f"Tilitysajo #{run_id} hylätty / discarded"
        self.review_id, self.review_rows = 0, []
        self._load()


_SHARE_HEADERS = (("Yhdistys", "Organisation"), ("Viite", "Reference"), ("IBAN", "IBAN"),
                  ("Tila", "Status"), ("Maksuja", "Payments"), ("Brutto", "Gross"),
                  ("Oikaisut", "Reversals"), ("Palkkiot", "Fees"),
                  ("Siirtynyt", "Carried in"), ("Netto", "Net"), ("Maksetaan", "Payout"))


def _shares_table(rows: rx.Var, table_id: str) -> rx.Component:
    def row(r: ShareRow) -> rx.Component:
        return rx.table.row(
            rx.table.cell(r.organization), rx.table.cell(rx.text(r.reference, size="1")),
            rx.table.cell(rx.text(r.iban, size="1",
                                  color=rx.cond(r.iban_ok, "inherit", rx.color("red", 11)))),
            rx.table.cell(r.status), rx.table.cell(r.payments),
            *[rx.table.cell(value, text_align="right")
              for value in (r.gross, r.reversals, r.fees, r.carried, r.net, r.payout)],
            key=r.key)

    return rx.box(rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(t(fi, en))
                                       for fi, en in _SHARE_HEADERS])),
        rx.table.body(rx.foreach(rows, row)), size="1", variant="surface", id=table_id),
        overflow_x="auto", width="100%")


def _run_row(r: RunRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.id), rx.table.cell(r.cut_off), rx.table.cell(r.status),
        rx.table.cell(r.organizations), rx.table.cell(r.payouts),
        rx.table.cell(r.gross, text_align="right"), rx.table.cell(r.fees, text_align="right"),
        rx.table.cell(r.payout, text_align="right"), rx.table.cell(r.execution),
        rx.table.cell(rx.hstack(
            rx.button(t("Näytä", "Review"), size="1", variant="soft",
                      on_click=SettlementRunsState.open_run(r.id)),
            rx.cond(r.download != "",
                    rx.link(t("Maksutiedosto", "Payout file"), href=r.download,
                            is_external=True)),
            spacing="2")),
        key=r.id)


def _approve_button() -> rx.Component:
    """Approval writes the bank file that moves the money: asked once more."""
    s = SettlementRunsState
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(rx.button(
            t("Hyväksy ja tee maksutiedosto", "Approve and write the payout file"),
            color_scheme="green", id="settlement-approve")),
        rx.alert_dialog.content(
            rx.alert_dialog.title(t("Hyväksytäänkö tilitysajo?", "Approve the settlement run?")),
            rx.alert_dialog.description(t(
                "Hyväksyntä kirjoittaa maksutiedoston, jolla yhdistyksille maksetaan. "
                "Hyväksyttyä ajoa ei voi enää hylätä.",
                "Approval writes the payout file that pays the organisations. An approved "
                "run can no longer be discarded.")),
            rx.cond(s.escrow_example, rx.callout(
                t(*ESCROW_EXAMPLE_WARNING), color_scheme="red", icon="triangle_alert")),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button(t("Peru", "Cancel"), variant="soft")),
                rx.alert_dialog.action(rx.button(
                    t("Hyväksy", "Approve"), color_scheme="green",
                    on_click=s.approve(s.review_id), id="settlement-approve-confirm")),
                justify="end", spacing="3", margin_top="1em"),
        ),
    )


@admin_page("/admin/settlement-runs", "tilitysajot / settlement runs",
            on_load=[SettlementRunsState.load])
def settlement_runs_view() -> rx.Component:
    s = SettlementRunsState
    return rx.vstack(
        page_title(t("Tilitysajot", "Settlement runs")),
        rx.text(t("Joka viikko (maanantaina tai seuraavana pankkipäivänä) luodaan luonnos. "
                  "Tarkista se ja hyväksy: hyväksyntä tekee SEPA-maksutiedoston "
                  "(pain.001), jonka viet pankkiin. Nolla tai negatiivinen tulos siirtyy "
                  "seuraavaan viikkoon.",
                  "Every week (Monday or the next banking day) a draft is created. Review "
                  "and approve it: approval writes the SEPA payout file (pain.001) for the "
                  "bank. A zero or negative result carries over to the next week."),
                size="2"),
        rx.hstack(
            rx.button(t("Esikatsele seuraava", "Preview the next run"), variant="soft",
                      on_click=s.preview, id="settlement-preview"),
            rx.button(t("Luo tilitysajo nyt", "Create run now"), on_click=s.create_now,
                      id="settlement-create"),
            spacing="3"),
        rx.cond(s.escrow_example, rx.callout(
            t(*ESCROW_EXAMPLE_WARNING), color_scheme="red", icon="triangle_alert",
            id="settlement-escrow-example")),
        rx.cond(s.message != "", rx.callout(s.message, id="settlement-message")),
        rx.cond(s.preview_text != "", rx.vstack(
            rx.heading(t("Esikatselu", "Preview"), size="4"),
            rx.text(s.preview_text),
            _shares_table(s.preview_rows, "settlement-preview-table"), width="100%")),
        rx.cond(s.review_id != 0, rx.vstack(
            rx.heading(t("Tilitysajo", "Settlement run"), " ", s.review_title, size="4"),
            _shares_table(s.review_rows, "settlement-review-table"),
            rx.cond(s.review_is_draft, rx.hstack(
                _approve_button(),
                rx.button(t("Hylkää luonnos", "Discard the draft"), color_scheme="red",
                          variant="soft", on_click=s.discard(s.review_id),
                          id="settlement-discard"),
                spacing="3")),
            width="100%")),
        rx.heading(t("Ajot", "Runs"), size="4", margin_top="1em"),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in (
                "#", t("Katkaisu", "Cut-off"), t("Tila", "Status"),
                t("Yhdistyksiä", "Organisations"), t("Siirtoja", "Transfers"),
                t("Brutto", "Gross"), t("Palkkiot", "Fees"), t("Maksetaan", "Payout"),
                t("Maksupäivä", "Execution"), rx.text(""))])),
            rx.table.body(rx.foreach(s.runs, _run_row)),
            size="1", variant="surface", id="settlement-runs"), overflow_x="auto", width="100%"),
        spacing="3", width="100%", max_width="90em",
    )
