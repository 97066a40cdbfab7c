"""SEPA credit-transfer files (pain.001) for paying weekly settlements to associations.

sepaxml builds the message but can only put an unstructured ``Ustrd`` text in the
remittance information. Associations match our payouts by creditor reference, so each
``Ustrd`` that stands for a reference is swapped for a structured ``Strd/CdtrRefInf``
block afterwards, and the final document is validated against the XSD sepaxml bundles.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib.resources import files
from typing import Literal

from lxml import etree
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer

from .banking_days import is_banking_day, next_banking_day
from .references import NormalisedReference, validate_reference

PAIN_001_001_03 = "pain.001.001.03"
PAIN_001_001_09 = "pain.001.001.09"
Pain001Version = Literal["pain.001.001.03", "pain.001.001.09"]
VERSIONS: tuple[str, ...] = (PAIN_001_001_03, PAIN_001_001_09)

MAX_AMOUNT_CENTS = 99_999_999_999  # 999 999 999.99 €, the SEPA credit transfer maximum
# EPC basic Latin character set, plus å/ä/ö which Finnish banks accept.
_SEPA_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ åäöÅÄÖ"
)
_END_TO_END_ID = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")


class Pain001Error(ValueError):
    """A payment file that the bank would reject; raised instead of writing it.

    Where one party's data is at fault, `party` names it ("debtor", or the transfer's
    end-to-end id) and `item` the part ("iban", "bic", "name"), so a caller can tell its
    users whose account to fix without reading this English message.
    """

    def __init__(self, message: str, *, party: str | None = None,
                 item: str | None = None) -> None:
        super().__init__(message)
        self.party, self.item = party, item


@dataclass(frozen=True)
class Debtor:
    """The paying (escrow) account. ``bic`` defaults to the one derived from the IBAN."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True)
class CreditTransfer:
    """One payout. Give exactly one of ``reference`` (national or RF) and ``text``."""

    end_to_end_id: str
    creditor_name: str
    creditor_iban: str
    amount_cents: int
    reference: str | None = None
    text: str | None = None
    creditor_bic: str | None = None


def sepa_text(value: str) -> str:
    """Map text into the SEPA character set so the bank does not reject the file.

    Accented letters lose their accents (é → e), å/ä/ö stay, anything else becomes a space.
    """
    out = []
    for char in value:
        if char not in _SEPA_CHARS:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            char = base if base and set(base) <= _SEPA_CHARS else " "
        out.append(char)
    return " ".join("".join(out).split())


def _iban(value: str, role: str, party: str) -> IBAN:
    try:
        return IBAN(value)
    except SchwiftyException as exc:
        raise Pain001Error(f"invalid {role} IBAN {value!r}: {exc}", party=party,
                           item="iban") from exc


def _bic(value: str, role: str, party: str) -> str:
    try:
        return str(BIC(value))
    except SchwiftyException as exc:
        raise Pain001Error(f"invalid {role} BIC {value!r}: {exc}", party=party,
                           item="bic") from exc


def _name(value: str, role: str, party: str) -> str:
    """Names are cut to 70 characters, as banks do; an empty name is an error."""
    name = sepa_text(value)[:70].rstrip()
    if not name:
        raise Pain001Error(f"{role} name is empty", party=party, item="name")
    return name


def _payment(t: CreditTransfer, execution_date: date) -> tuple[dict, NormalisedReference | None]:
    """sepaxml payment dict, plus the reference that later replaces its ``Ustrd``."""
    where = f"transfer {t.end_to_end_id!r}"
    if not _END_TO_END_ID.fullmatch(t.end_to_end_id) or t.end_to_end_id.startswith("/"):
        raise Pain001Error(f"{where}: end-to-end id must be 1–35 SEPA characters")
    amount = t.amount_cents
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise Pain001Error(f"{where}: amount must be an integer of cents, got {amount!r}")
    if not 0 < amount <= MAX_AMOUNT_CENTS:
        raise Pain001Error(f"{where}: amount must be 0.01–999 999 999.99 €")
    if bool(t.reference) == bool(t.text):
        raise Pain001Error(f"{where}: give either a reference or a text")
    ref = validate_reference(t.reference) if t.reference else None
    description = ref.compact if ref else sepa_text(t.text or "")
    if not 0 < len(description) <= 140:
        raise Pain001Error(f"{where}: text must be 1–140 characters")
    payment = {
        "name": _name(t.creditor_name, where + " creditor", t.end_to_end_id),
        "IBAN": _iban(t.creditor_iban, where + " creditor", t.end_to_end_id).compact,
        "amount": amount,
        "execution_date": execution_date,
        "description": description,
        "endtoend_id": t.end_to_end_id,
    }
    if t.creditor_bic:
        payment["BIC"] = _bic(t.creditor_bic, where + " creditor", t.end_to_end_id)
    return payment, ref


def _structured_remittance(ns: str, ref: NormalisedReference) -> etree._Element:
    """``Strd/CdtrRefInf`` with type SCOR; ``Issr`` ISO only for RF (ISO 11649) references."""
    strd = etree.Element(f"{{{ns}}}Strd")
    info = etree.SubElement(strd, f"{{{ns}}}CdtrRefInf")
    tp = etree.SubElement(info, f"{{{ns}}}Tp")
    etree.SubElement(etree.SubElement(tp, f"{{{ns}}}CdOrPrtry"), f"{{{ns}}}Cd").text = "SCOR"
    if ref.kind == "rf":
        etree.SubElement(tp, f"{{{ns}}}Issr").text = "ISO"
    etree.SubElement(info, f"{{{ns}}}Ref").text = ref.compact
    return strd


def build_pain001(
    debtor: Debtor,
    execution_date: date,
    transfers: Sequence[CreditTransfer],
    *,
    version: Pain001Version = PAIN_001_001_03,
    roll_forward: bool = True,
    message_id: str | None = None,
) -> bytes:
    """Build a validated pain.001 file (UTF-8 bytes) paying ``transfers`` from ``debtor``.

    All transfers go into one batch-booked payment. A non-banking ``execution_date`` is
    rolled to the next banking day (or rejected when ``roll_forward`` is False) because
    banks would otherwise move or reject it themselves. ``message_id`` (≤ 35 chars) lets
    a settlement run reuse its id, so the bank's duplicate check catches a resend.
    """
    if version not in VERSIONS:
        raise Pain001Error(f"unsupported version {version!r}; use one of {', '.join(VERSIONS)}")
    if not is_banking_day(execution_date):
        if not roll_forward:
            raise Pain001Error(f"execution date {execution_date} is not a Finnish banking day")
        execution_date = next_banking_day(execution_date)
    if not transfers:
        raise Pain001Error("a payment file needs at least one transfer")
    ids = [t.end_to_end_id for t in transfers]
    if len(set(ids)) != len(ids):
        raise Pain001Error("end-to-end ids must be unique within a file")
    if message_id is not None and not _END_TO_END_ID.fullmatch(message_id):
        raise Pain001Error("message id must be 1–35 SEPA characters")

    debtor_iban = _iban(debtor.iban, "debtor", "debtor")
    debtor_bic = _bic(debtor.bic, "debtor", "debtor") if debtor.bic else debtor_iban.bic
    if debtor_bic is None:
        raise Pain001Error(f"cannot derive the BIC of debtor IBAN {debtor.iban}; give it",
                           party="debtor", item="bic")
    sepa = SepaTransfer(
        {
            "name": _name(debtor.name, "debtor", "debtor"),
            "IBAN": debtor_iban.compact,
            "BIC": str(debtor_bic),
            "batch": True,
            "currency": "EUR",
        },
        schema=version,
        clean=False,
    )
    references: dict[str, NormalisedReference] = {}
    for transfer in transfers:
        payment, ref = _payment(transfer, execution_date)
        sepa.add_payment(payment)
        if ref:
            references[transfer.end_to_end_id] = ref

    root = etree.fromstring(sepa.export(validate=False))
    ns = etree.QName(root).namespace
    for tx in root.iter(f"{{{ns}}}CdtTrfTxInf"):
        ref = references.get(tx.findtext(f"{{{ns}}}PmtId/{{{ns}}}EndToEndId"))
        if ref:
            remittance = tx.find(f"{{{ns}}}RmtInf")
            remittance.clear()
            remittance.append(_structured_remittance(ns, ref))
    if message_id is not None:
        root.find(f".//{{{ns}}}GrpHdr/{{{ns}}}MsgId").text = message_id
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    validate_pain001(xml, version)
    return xml


@lru_cache(maxsize=len(VERSIONS))
def _schema(version: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(files("sepaxml") / "schemas" / f"{version}.xsd")))


def validate_pain001(xml: bytes, version: Pain001Version = PAIN_001_001_03) -> None:
    """Raise :class:`Pain001Error` naming the first XSD violation of a pain.001 document.

    Run on every file before it is handed to the bank: a rejected file delays all payouts.
    """
    if version not in VERSIONS:
        raise Pain001Error(f"unsupported version {version!r}; use one of {', '.join(VERSIONS)}")
    try:
        doc = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        raise Pain001Error(f"not well-formed XML: {exc}") from exc
    schema = _schema(version)
    if not schema.validate(doc):
        error = schema.error_log[0]
        raise Pain001Error(f"{version} schema violation at line {error.line}: {error.message}")
