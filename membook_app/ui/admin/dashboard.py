"""/admin: the treasurer's dashboard, the landing page of the admin pages.

The figures come from `reports.dashboard.dashboard` for the selected organisation and
its subtree. Each chart has a "Luvut / Figures" button that opens the same numbers as a
table in Finnish format; the dialog is client-side, so no handler serves it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import HELSINKI, fi_date, fi_datetime, money, number
from membook_app.reports.dashboard import Dashboard, ShareFigure, dashboard
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import UiState, t

nav_item("/admin", "layout-dashboard", "Yleiskuva", "Dashboard", order=5)

IMPORT_OUTCOMES = {"imported": "luettu / imported", "refused": "hylätty / refused",
                   "duplicate": "jo luettu aiemmin / already imported"}
CHART_HEIGHT = 260
# Money axes and tooltips in Finnish form (1 234,50 €); chart data is in euros.
EUROS_JS = "(value) => value.toLocaleString('fi-FI', {style: 'currency', currency: 'EUR'})"
# Plain counts in Finnish form in tooltips (1 234).
NUMBER_JS = "(value) => value.toLocaleString('fi-FI')"
# The invoiced-against-paid chart: the largest shares by name, the rest as one bar.
TOP_SHARES = 8
LABEL_CHARS = 16
# Axis ticks in whole euros: "22 000,00 €" did not fit the axis and lost its first digit.
EURO_TICKS_JS = ("(value) => value.toLocaleString('fi-FI', "
                 "{style: 'currency', currency: 'EUR', maximumFractionDigits: 0})")


@dataclasses.dataclass
class FigureRow:
    """One row of a chart's figures, already in Finnish display form."""

    cells: list[str]


def _euros(cents: int) -> float:
    return cents / 100


def _short(name: str) -> str:
    """An organisation's name short enough for an axis label ("Helsingin Lat…")."""
    name = name.removesuffix(" ry").strip()
    return name if len(name) <= LABEL_CHARS else name[:LABEL_CHARS - 1].rstrip() + "…"


def share_chart(shares: Sequence[ShareFigure]) -> list[dict[str, str | float]]:
    """The chart's bars: the TOP_SHARES largest by invoiced, short names, and the rest
    summed as "muut / others" (the figures table keeps every share by its full name)."""
    top, rest = list(shares[:TOP_SHARES]), list(shares[TOP_SHARES:])
    bars: list[dict[str, str | float]] = [
        {"name": _short(s.organization_name), "invoiced": _euros(s.invoiced_cents),
         "paid": _euros(s.paid_cents), "open": _euros(s.open_cents)} for s in top]
    if rest:
        bars.append({"name": f"muut / others ({len(rest)})",
                     "invoiced": _euros(sum(s.invoiced_cents for s in rest)),
                     "paid": _euros(sum(s.paid_cents for s in rest)),
                     "open": _euros(sum(s.open_cents for s in rest))})
    return bars


def week_label(monday: date) -> str:
    """A week as Finns name it: "vk 48" (ISO week number)."""
    return f"vk {monday.isocalendar().week}"


def _month_label(board: Dashboard, index: int) -> str:
    month = board.months[index].month
    return f"{month.month}/{month.year}"


class DashboardState(StaffState):
    """The figures of the selected organisation: chart data and their tables."""

    loaded: bool = False
    organization: str = ""
    period: str = ""
    periods: list[str] = []
    billing: bool = False
    chosen_period: str = ""  # the reader's choice; "" is the default period
    members_now: str = ""
    member_chart: list[dict[str, str | int]] = []
    member_rows: list[FigureRow] = []
    share_chart: list[dict[str, str | float]] = []
    share_rows: list[FigureRow] = []
    age_chart: list[dict[str, str | float]] = []
    age_rows: list[FigureRow] = []
    week_chart: list[dict[str, str | float]] = []
    week_rows: list[FigureRow] = []
    show_unmatched: bool = False
    unmatched_count: str = ""
    unmatched_sum: str = ""
    unmatched_whole_queue: bool = False
    has_settlement: bool = False
    own_payout: str = ""
    subtree_payout: str = ""
    settlement_cut_off: str = ""
    has_import: bool = False
    import_at: str = ""
    import_status: str = ""
    import_failed: bool = False
    import_last_ok: str = ""  # the latest import that went in, when the latest did not
    import_late: bool = False
    import_details: str = ""

    def _fill(self, board: Dashboard) -> None:
        self.organization, self.period = board.organization_name, board.period
        self.periods, self.billing = list(board.periods), board.billing
        self.members_now = number(board.members_now)
        self.member_chart = [
            {"month": _month_label(board, i), "joins": m.joins, "resignations": m.resignations,
             "members": m.members_at_end} for i, m in enumerate(board.months)]
        self.member_rows = [FigureRow([_month_label(board, i), number(m.joins),
                                       number(m.resignations), number(m.members_at_end)])
                            for i, m in enumerate(board.months)]
        self.share_chart = share_chart(board.shares)
        self.share_rows = [FigureRow([s.organization_name, money(s.invoiced_cents),
                                      money(s.credited_cents), money(s.paid_cents),
                                      money(s.open_cents)]) for s in board.shares]
        self.age_chart = [{"fi": a.label_fi, "en": a.label_en, "open": _euros(a.open_cents)}
                          for a in board.receivables]
        self.age_rows = [FigureRow([f"{a.label_fi} / {a.label_en}", number(a.invoice_count),
                                    money(a.open_cents)]) for a in board.receivables]
        self.week_chart = [{"week": week_label(w.week_start), "bank": _euros(w.bank_cents),
                            "paytrail": _euros(w.paytrail_cents),
                            "manual": _euros(w.manual_cents)} for w in board.weeks]
        self.week_rows = [FigureRow([f"{week_label(w.week_start)} ({fi_date(w.week_start)})",
                                     money(w.bank_cents),
                                     money(w.paytrail_cents), money(w.manual_cents),
                                     money(w.total_cents)]) for w in board.weeks]
        self.show_unmatched = board.unmatched is not None
        if board.unmatched is not None:
            self.unmatched_count = number(board.unmatched.count)
            self.unmatched_sum = money(board.unmatched.amount_cents)
            self.unmatched_whole_queue = board.unmatched.whole_queue
        self.has_settlement = board.settlement is not None
        if board.settlement is not None:
            self.own_payout = money(board.settlement.own_payout_cents)
            self.subtree_payout = money(board.settlement.subtree_payout_cents)
            self.settlement_cut_off = fi_datetime(board.settlement.cut_off)
        latest = board.latest_import
        self.has_import = latest is not None
        if latest is not None:
            self.import_at = fi_datetime(latest.created_at)
            self.import_status = IMPORT_OUTCOMES.get(latest.outcome, latest.outcome)
            self.import_failed = latest.outcome != "imported"
            self.import_last_ok = ("" if latest.outcome == "imported" else
                                   fi_datetime(latest.imported_at) or "–")
            self.import_late = latest.late
            self.import_details = (latest.message or "") if latest.filename is None else (
                f"{latest.filename} ({latest.file_format}): {number(latest.payment_count)} "
                f"maksua / payments, {number(latest.matched_count)} kohdistettu / matched, "
                f"{number(latest.unmatched_count)} kohdistamatta / unmatched, "
                f"{money(latest.credit_cents)}")
        self.loaded = True

    @rx.event
    @guarded("staff")
    def load(self, _org_id: str = "") -> None:
        """Compute the selected organisation's dashboard: on opening the page, and after
        the switcher chose another organisation (it passes the new id, already in org_id)."""
        self._load_board(self.chosen_period)

    def _load_board(self, period: str) -> None:
        self.loaded = False
        if not self.org_id.isdigit():
            return
        with session_scope() as session:
            board = dashboard(session, current_actor(), int(self.org_id),
                              datetime.now(HELSINKI).date(), period or None)
        self.chosen_period = period
        self._fill(board)

    @rx.event
    @guarded("staff")
    def choose_period(self, period: str) -> None:
        """Show "invoiced against paid" for another period (the service falls back to the
        default for a period the subtree has no invoices for)."""
        self._load_board(str(period)[:20])


def _figures(key: str, headers: list[rx.Var], rows: rx.Var) -> rx.Component:
    """The "figures" button and its dialog: the chart's numbers as a table."""
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("table", size=14), t("Luvut", "Figures"),
                                    size="1", variant="soft", id=f"{key}-figures")),
        rx.dialog.content(
            rx.dialog.title(t("Luvut", "Figures")),
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h)
                                               for h in headers])),
                rx.table.body(rx.foreach(rows, lambda row: rx.table.row(
                    rx.foreach(row.cells, lambda cell: rx.table.cell(cell))))),
                size="1", id=f"{key}-table"), overflow_x="auto"),
            rx.dialog.close(rx.button(t("Sulje", "Close"), variant="soft", margin_top="1em",
                                      id=f"{key}-close")),
            max_width="40em",
        ),
    )


def _card(key: str, title: rx.Var, chart: rx.Component, figures: rx.Component,
          choice: rx.Component | None = None) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(title, size="3"), *([choice] if choice else []), rx.spacer(),
                      figures, width="100%",
                      align="center"),
            rx.box(chart, width="100%", height=f"{CHART_HEIGHT}px"),
            width="100%",
        ),
        width="100%", id=f"{key}-card",
    )


def _stat(label: rx.Var, value: rx.Var | str, note: rx.Component | None = None,
          id_: str = "") -> rx.Component:
    return rx.card(rx.vstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(value, size="5", weight="bold", id=id_),
        *([note] if note is not None else []),
        spacing="1"), min_width="14em", flex="1")


def _euro_axis() -> rx.Component:
    return rx.recharts.y_axis(tick_formatter=EURO_TICKS_JS, width=90)


def _euro_tooltip() -> rx.Component:
    return rx.recharts.graphing_tooltip(custom_attrs={"formatter": rx.Var(EUROS_JS)})


def _members_chart() -> rx.Component:
    return _card("members", t("Jäsenet ja muutokset kuukausittain", "Members and changes by month"),
                 rx.recharts.composed_chart(
                     rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                     rx.recharts.x_axis(data_key="month"),
                     # Whole people, in Finnish form (no "0.75" members).
                     rx.recharts.y_axis(y_axis_id="changes", allow_decimals=False,
                                        tick_formatter=NUMBER_JS),
                     rx.recharts.y_axis(y_axis_id="members", orientation="right",
                                        allow_decimals=False, tick_formatter=NUMBER_JS),
                     rx.recharts.bar(data_key="joins", name=t("Liittyneet", "Joined"),
                                     fill=rx.color("grass", 8), y_axis_id="changes"),
                     rx.recharts.bar(data_key="resignations", name=t("Eronneet", "Left"),
                                     fill=rx.color("tomato", 8), y_axis_id="changes"),
                     rx.recharts.line(data_key="members", name=t("Jäseniä", "Members"),
                                      stroke=rx.color("accent", 9), y_axis_id="members"),
                     rx.recharts.legend(),
                     rx.recharts.graphing_tooltip(custom_attrs={"formatter": rx.Var(NUMBER_JS)}),
                     data=DashboardState.member_chart),
                 _figures("members", [t("Kuukausi", "Month"), t("Liittyneet", "Joined"),
                                      t("Eronneet", "Left"),
                                      t("Jäseniä kuun lopussa", "Members at month end")],
                          DashboardState.member_rows))


def _period_select() -> rx.Component:
    """The periods with invoices in the subtree; none: the default period's title only."""
    return rx.cond(DashboardState.periods.length() > 1,
                   rx.select(DashboardState.periods, value=DashboardState.period,
                             on_change=DashboardState.choose_period, size="1",
                             id="period-select"),
                   rx.text(DashboardState.period, id="period-only"))


def _shares_chart() -> rx.Component:
    return _card("shares", t("Laskutettu ja maksettu, kausi", "Invoiced and paid, period"),
                 rx.recharts.bar_chart(
                     rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                     rx.recharts.x_axis(data_key="name", interval=0, angle=-30,
                                        text_anchor="end", height=70,
                                        custom_attrs={"fontSize": 11}),
                     _euro_axis(),
                     rx.recharts.bar(data_key="invoiced", name=t("Laskutettu €", "Invoiced €"),
                                     fill=rx.color("accent", 7)),
                     rx.recharts.bar(data_key="paid", name=t("Maksettu €", "Paid €"),
                                     fill=rx.color("grass", 8)),
                     rx.recharts.legend(), _euro_tooltip(),
                     data=DashboardState.share_chart),
                 _figures("shares", [t("Osuus", "Share"), t("Laskutettu", "Invoiced"),
                                     t("Hyvitetty", "Credited"), t("Maksettu", "Paid"),
                                     t("Avoinna", "Open")], DashboardState.share_rows),
                 _period_select())


def _ages_chart() -> rx.Component:
    return _card("ages", t("Avoimet saatavat iän mukaan", "Open receivables by age"),
                 rx.recharts.bar_chart(  # bars across, so the age labels fit on a phone
                     rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                     rx.recharts.x_axis(type_="number", tick_formatter=EURO_TICKS_JS),
                     rx.recharts.y_axis(data_key=rx.cond(UiState.lang == "en", "en", "fi"),
                                        type_="category", interval=0, width=95),
                     rx.recharts.bar(data_key="open", name=t("Avoinna €", "Open €"),
                                     fill=rx.color("amber", 8)),
                     _euro_tooltip(),
                     layout="vertical", data=DashboardState.age_chart),
                 _figures("ages", [t("Erääntynyt", "Overdue"), t("Laskuja", "Invoices"),
                                   t("Avoinna", "Open")], DashboardState.age_rows))


def _weeks_chart() -> rx.Component:
    return _card("weeks", t("Saapuneet maksut viikoittain", "Incoming money by week"),
                 rx.recharts.bar_chart(
                     rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                     rx.recharts.x_axis(data_key="week"),
                     _euro_axis(),
                     rx.recharts.bar(data_key="bank", stack_id="money",
                                     name=t("Viitemaksut €", "Reference payments €"),
                                     fill=rx.color("accent", 8)),
                     rx.recharts.bar(data_key="paytrail", stack_id="money",
                                     name=t("Paytrail €", "Paytrail €"),
                                     fill=rx.color("grass", 8)),
                     rx.recharts.bar(data_key="manual", stack_id="money",
                                     name=t("Käsin kohdistetut €", "Booked by hand €"),
                                     fill=rx.color("amber", 8)),
                     rx.recharts.legend(), _euro_tooltip(),
                     data=DashboardState.week_chart),
                 _figures("weeks", [t("Viikko", "Week"), t("Viitemaksut",
                                                                       "Reference payments"),
                                    "Paytrail", t("Käsin kohdistetut", "Booked by hand"),
                                    t("Yhteensä", "Total")], DashboardState.week_rows))


def _stats() -> rx.Component:
    return rx.flex(
        _stat(t("Jäseniä nyt", "Members now"), DashboardState.members_now, id_="members-now"),
        _stat(t("Seuraava tilitys (arvio)", "Next settlement (estimate)"),
              rx.cond(DashboardState.has_settlement, DashboardState.own_payout, "–"),
              rx.cond(DashboardState.has_settlement, rx.text(
                  t("Alayhdistykset mukaan ", "With sub-organisations "),
                  DashboardState.subtree_payout, " · ", DashboardState.settlement_cut_off,
                  size="1", color_scheme="gray")),
              id_="settlement-own"),
        _stat(t("Kohdistamattomat maksut", "Unmatched payments"),
              rx.cond(DashboardState.show_unmatched,
                      rx.fragment(DashboardState.unmatched_count, " · ",
                                  DashboardState.unmatched_sum), "–"),
              rx.vstack(
                  rx.text(rx.cond(
                      DashboardState.unmatched_whole_queue,
                      t("Koko asiakasvaratilin jono", "The escrow account's whole queue"),
                      t("Jonossa olevat maksut, jotka muistuttavat tämän yhdistyksen tai sen "
                        "alayhdistysten laskua.",
                        "Queued payments that resemble an invoice of this organisation or its "
                        "sub-organisations.")), size="1", color_scheme="gray"),
                  rx.cond(DashboardState.show_unmatched,
                          rx.link(t("Avaa jono", "Open the queue"), href="/admin/unmatched",
                                  size="1", id="unmatched-queue-link")),
                  spacing="1"),
              id_="unmatched-figure"),
        _stat(t("Viimeisin pankkiaineisto", "Latest bank file"),
              rx.cond(DashboardState.has_import, DashboardState.import_at, "–"),
              rx.vstack(
                  rx.text(DashboardState.import_status, " ", DashboardState.import_details,
                          size="1", id="import-outcome",
                          color_scheme=rx.cond(DashboardState.import_failed, "red", "gray")),
                  rx.cond(DashboardState.import_failed, rx.text(
                      t("Viimeksi luettu: ", "Last imported: "), DashboardState.import_last_ok,
                      size="1", color_scheme="gray")),
                  rx.cond(DashboardState.import_late, rx.text(
                      rx.icon("triangle-alert", size=12),
                      t(" Pankkiaineisto myöhässä: edellisen pankkipäivän tiedosto puuttuu",
                        " Bank data is late: the previous banking day's file is missing"),
                      size="1", color_scheme="amber", id="import-late")),
                  spacing="1"),
              id_="latest-import"),
        gap="0.75em", wrap="wrap", width="100%",
    )


@admin_page("/admin", "yleiskuva / dashboard", on_load=[DashboardState.load],
            on_org_change=DashboardState.load)
def dashboard_view() -> rx.Component:
    """Members, invoicing, receivables, incoming money and the next settlement at a glance."""
    return rx.vstack(
        rx.hstack(page_title(t("Yleiskuva", "Dashboard")), rx.text(
            DashboardState.organization, color_scheme="gray"), align="baseline", wrap="wrap"),
        rx.cond(DashboardState.loaded, rx.vstack(
            _stats(),
            # Without billing rights the money charts would be empty: the members only.
            rx.grid(_members_chart(),
                    rx.cond(DashboardState.billing, _shares_chart()),
                    rx.cond(DashboardState.billing, _ages_chart()),
                    rx.cond(DashboardState.billing, _weeks_chart()),
                    columns=rx.breakpoints(initial="1", md="2"), gap="0.75em", width="100%"),
            width="100%", spacing="3"),
            rx.spinner(id="dashboard-loading")),
        spacing="3", width="100%",
    )
