"""The invoice as a PDF (fpdf2): the same content as the public page.

The Code 128 barcode and the EPC QR code are drawn as vector rectangles from the
modules python-barcode and segno compute, so they print sharp at any size. Text uses
DejaVu Sans (regular and bold, `assets/fonts/`, committed with its licence): a PDF core
font covers only Windows-1252, and payers are named "Łukasz Nguyễn", in Sámi letters
(ŋ, đ, č) or in Cyrillic. fpdf2 embeds only the glyphs an invoice uses.
"""

from __future__ import annotations

from pathlib import Path

import segno
from barcode import Code128
from fpdf import FPDF

from membook_app.billing.invoice_view import InvoiceView

_MARGIN = 18.0
_BAR_MODULE = 0.25  # mm per Code 128 module, as in banking/barcode.py
_BAR_HEIGHT = 13.0
_QR_MODULE = 0.7
FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"
_FONT = "DejaVu"


def _label(pdf: FPDF, fi: str, en: str, value: str, *, width: float = 48) -> None:
    pdf.set_font(_FONT, size=8)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(width, 5, f"{fi} / {en}")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(_FONT, "B", size=10)
    pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")


def _draw_code128(pdf: FPDF, digits: str, x: float, y: float) -> None:
    """Bars from the module string (1 = bar), runs of bars merged into one rectangle."""
    modules = Code128(digits).build()[0]
    start = None
    for i, bit in enumerate(modules + "0"):
        if bit == "1" and start is None:
            start = i
        elif bit == "0" and start is not None:
            pdf.rect(x + start * _BAR_MODULE, y, (i - start) * _BAR_MODULE, _BAR_HEIGHT,
                     style="F")
            start = None


def _draw_qr(pdf: FPDF, payload: str, x: float, y: float) -> None:
    """The EPC QR symbol (level M, as segno's EPC helper makes it), dark modules filled."""
    qr = segno.make_qr(payload, error="m", boost_error=False)  # ISO-8859-1 when it fits
    for row, line in enumerate(qr.matrix):
        for column, dark in enumerate(line):
            if dark:
                pdf.rect(x + column * _QR_MODULE, y + row * _QR_MODULE, _QR_MODULE, _QR_MODULE,
                         style="F")


def render_pdf(view: InvoiceView) -> bytes:
    """The PDF bytes of one invoice."""
    pdf = FPDF(format="A4")
    pdf.add_font(_FONT, "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font(_FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.set_title(f"Lasku / Invoice {view.reference}")
    pdf.set_author(view.organization)
    pdf.set_margins(_MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, _MARGIN)
    pdf.add_page()

    pdf.set_font(_FONT, "B", size=14)
    pdf.cell(0, 8, view.organization, new_x="LMARGIN", new_y="NEXT")
    if view.organization_business_id:
        pdf.set_font(_FONT, size=9)
        pdf.cell(0, 5, f"Y-tunnus / Business ID {view.organization_business_id}",
                 new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "B", size=18)
    title = ("HYVITYSLASKU / CREDIT NOTE" if view.kind == "credit_note"
             else "LASKU / INVOICE")
    pdf.cell(0, 12, title, align="R", new_x="LMARGIN", new_y="NEXT")

    pdf.set_font(_FONT, size=10)
    for text in (view.payer_name, *view.payer_address):
        pdf.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    if view.member_name:
        _label(pdf, "Jäsen", "Member", view.member_name)
    _label(pdf, "Päivämäärä", "Date", view.issue_date)
    _label(pdf, "Eräpäivä", "Due date", view.due_date)
    _label(pdf, "Viitenumero", "Reference", view.reference)
    _label(pdf, "Tila", "Status", f"{view.status_fi} / {view.status_en}")
    if view.description:
        _label(pdf, "Kuvaus", "Description", view.description)
    pdf.ln(4)

    with pdf.table(col_widths=(90, 50, 34), text_align=("LEFT", "LEFT", "RIGHT"),
                   first_row_as_headings=True) as table:
        table.row(["Rivi / Line", "Yhdistys / Association", "Summa / Amount"])
        for line in view.lines:
            table.row([line.description, line.organization, line.amount])
    pdf.ln(2)
    _label(pdf, "Yhteensä", "Total", view.total, width=140)
    if view.paid_cents:
        _label(pdf, "Maksettu", "Paid", view.paid, width=140)
    _label(pdf, "Maksettavaa", "Amount due", view.open_amount, width=140)
    pdf.ln(4)

    if view.payable:
        pdf.set_font(_FONT, "B", size=11)
        pdf.cell(0, 7, "Maksutiedot / Payment details", new_x="LMARGIN", new_y="NEXT")
        _label(pdf, "Saaja", "Beneficiary", view.beneficiary)
        _label(pdf, "Saajan tilinumero", "IBAN", view.iban)
        _label(pdf, "BIC", "BIC", view.bic)
        _label(pdf, "Viitenumero", "Reference", view.reference)
        _label(pdf, "Eräpäivä", "Due date", view.due_date)
        _label(pdf, "Euro", "Amount", view.open_amount)
        pdf.ln(3)
        pdf.set_font(_FONT, size=8)
        pdf.cell(0, 5, "Virtuaaliviivakoodi / Virtual barcode", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Courier", size=9)
        pdf.cell(0, 5, view.barcode, new_x="LMARGIN", new_y="NEXT")
        top = pdf.get_y() + 3
        _draw_code128(pdf, view.barcode, _MARGIN, top)
        _draw_qr(pdf, view.qr_payload, pdf.w - _MARGIN - 40, top - 2)
        pdf.set_y(top + 40)
        pdf.set_font(_FONT, size=8)
        pdf.cell(0, 5, "Pankkiviivakoodi (Code 128) ja EPC QR -koodi / "
                 "Bank barcode (Code 128) and EPC QR code", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
