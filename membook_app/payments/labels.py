"""Finnish-first names for the codes stored on payments and allocations.

The database keeps short English codes (`matched`, `rf`, `overpayment`) that the matching
and the reports compute with; a treasurer reads "kohdistettu / matched". One table here
serves the payments page, the payments journal and its Excel export alike.
"""

from __future__ import annotations

import sqlalchemy as sa

PAYMENT_STATUSES = {
    "matched": "kohdistettu / matched", "overpaid": "ylimaksu / overpaid",
    "credit": "saldolle / to credit", "unmatched": "kohdistamatta / unmatched",
    "reversal": "oikaisu / correction", "reversed": "oikaistu / reversed",
    "refund": "palautettava / to refund", "outgoing": "lähtevä / outgoing",
    "psp_settlement": "Paytrail-tilitys / Paytrail payout",
}
PAYMENT_SOURCES = {"bank": "pankki / bank", "paytrail": "Paytrail", "manual": "käsin / manual"}
# Payment.match_rule: how the reference was found, or why it was not.
MATCH_RULES = {
    "reference": "viite / reference", "rf": "RF-viite / RF reference",
    "leading_zeros": "etunollat / leading zeros", "free_text": "viestistä / from the message",
    "rf_body": "RF-viitteen runko / RF body", "paytrail": "Paytrail",
    "manual": "käsin / by hand", "manual_split": "jaettu käsin / split by hand",
    "manual_refund": "palautus käsin / refund by hand",
    "no_reference": "ei viitettä / no reference", "bad_reference": "virheellinen viite / bad "
    "reference", "unknown_reference": "tuntematon viite / unknown reference",
    "no_original": "ei alkuperäistä / no original", "correction": "oikaisu / correction",
    "debit": "veloitus / debit", "paytrail_settlement": "Paytrail-tilitys / Paytrail payout",
}
# Invoice.status, as the payments pages show an invoice beside a payment.
INVOICE_STATUSES = {
    "open": "avoin / open", "partly_paid": "osittain maksettu / partly paid",
    "paid": "maksettu / paid", "credited": "hyvitetty / credited",
    "overdue": "erääntynyt / overdue",
}
# Allocation.kind and Allocation.rule.
ALLOCATION_KINDS = {"invoice": "laskulle / to invoice", "credit": "saldolle / to credit",
                    "reversal": "oikaisu / reversal", "refund": "palautus / refund"}
ALLOCATION_RULES = {
    **MATCH_RULES,
    "overpayment": "ylimaksu / overpayment", "paid_invoice": "maksettu lasku / paid invoice",
    "credited_invoice": "hyvitetty lasku / credited invoice",
    "manual_overpayment": "ylimaksu käsin / overpayment by hand",
    "paytrail-overpayment": "Paytrail-ylimaksu / Paytrail overpayment",
    "from_credit": "saldosta / from credit",
    "credit_refund": "saldon palautus / credit refund",
}


def label(labels: dict[str, str], code: str | None) -> str:
    """The display name of a code; an unknown code shows as itself rather than vanishing."""
    return "" if code is None else labels.get(code, code)


def labelled(column: sa.ColumnElement[str | None], labels: dict[str, str]
             ) -> sa.ColumnElement[str | None]:
    """The same translation in SQL, for rows streamed straight into a report or export."""
    return sa.case(labels, value=column, else_=column)
