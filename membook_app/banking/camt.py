"""ISO 20022 camt.054 notifications and camt.053 statements (.001.02 and .001.08).

Elements are matched by local name (qualified once with the namespace the ``Document``
declares), so both versions share one code path; where they differ (status, transaction
amount, debtor name) both forms are accepted. The file is read with ``iterparse`` and
every processed ``Ntry`` is freed at once, because a year of payments for a large
federation is a file of 100,000 entries.
Paths in comments and messages are relative to ``Ntry`` as in banking spec d.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO
from types import SimpleNamespace
from typing import Any

from lxml import etree

from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
    ParsedFile,
    ReferenceInfo,
    StatementBalances,
    Totals,
    build_payment_unchecked,
    classify_reference,
    format_amount,
    gc_paused,
)

_NAMESPACE = re.compile(r"\{(urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.(\d\d))\}Document")
SUPPORTED_VERSIONS = ("02", "08")
# Entry statuses other than BOOK (ISO ExternalEntryStatus1Code): read, counted in the
# totals, never imported. Anything else, or no status, refuses the file.
_NOT_BOOKED = frozenset({"PDNG", "INFO", "FUTR"})
# At most 15 digits of euros: a larger amount is no real payment, and its cents (or a
# file's sum of them) would overflow the database's 64-bit columns mid-import.
_AMOUNT = re.compile(r"(\d{1,15})(?:\.(\d{1,5}))?", re.ASCII)

# Children read from Ntry, TxDtls, TxDtls/Refs and TxDtls/RltdPties: the first child with
# each of these local names, in this order (see ``_first_children``).
_ENTRY_SLOTS = ("Amt", "CdtDbtInd", "RvslInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef", "BkTxCd")
_TX_SLOTS = ("Refs", "AmtDtls", "Amt", "CdtDbtInd", "BkTxCd", "RltdPties", "RmtInf", "RtrInf")
_REFS_SLOTS = ("AcctSvcrRef", "EndToEndId")
_PARTIES_SLOTS = ("Dbtr", "DbtrAcct", "Cdtr")
# Further tags read inside those children: attribute of ``_Parser.t`` → local name.
_INNER = {
    "acct_svcr_ref": "AcctSvcrRef",
    "end_to_end_id": "EndToEndId",
    "tx_amt": "TxAmt",
    "amt": "Amt",
    "dbtr": "Dbtr",
    "dbtr_acct": "DbtrAcct",
    "cdtr": "Cdtr",
    "ustrd": "Ustrd",
    "strd": "Strd",
    "cdtr_ref_inf": "CdtrRefInf",
    "ref": "Ref",
    "id": "Id",
    "iban": "IBAN",
    "rsn": "Rsn",
    "cd": "Cd",
    "nm": "Nm",
    "pty": "Pty",
}

Element = Any  # lxml.etree._Element; lxml ships no public type for it


class _Names(dict[str, str]):
    """Local name → qualified tag (``{namespace}Amt``) in the document's namespace.

    camt versions differ in namespace only, and every element of a file lives in the
    namespace of its ``Document``; qualifying the local names once per file and comparing
    whole tags lets lxml filter children in C and avoids a string split per element, which
    matters at 40 elements × 100,000 entries.
    """

    def __init__(self, namespace: str) -> None:
        super().__init__()
        self.prefix = f"{{{namespace}}}"

    def __missing__(self, local: str) -> str:
        self[local] = tag = self.prefix + local
        return tag


def _first_children(el: Element, slots: dict[str, int], size: int) -> list[Element | None]:
    """First child for each wanted tag, placed at its slot (None where there is none).

    One pass over the children with one dict lookup per child: the hot path visits only the
    levels it reads, which costs a proxy per child instead of one per descendant.
    """
    found: list[Element | None] = [None] * size
    for child in el:
        slot = slots.get(child.tag)
        if slot is not None and found[slot] is None:
            found[slot] = child
    return found


def _kids(el: Element) -> dict[str, Element]:
    """Children by qualified tag: one pass is cheaper than a lookup per wanted child."""
    return {child.tag: child for child in el}


def _child(el: Element | None, tag: str) -> Element | None:
    """First child with ``tag``; a plain loop, as ``iterchildren(tag)`` costs µs to set up."""
    if el is not None:
        for child in el:
            if child.tag == tag:
                return child
    return None


def _path_child(el: Element | None, *tags: str) -> Element | None:
    """Element at a child path such as ``TxAmt/Amt`` (first child at each step), or None."""
    for tag in tags:
        el = _child(el, tag)
    return el


def _text(el: Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _path_text(el: Element | None, *tags: str) -> str | None:
    """Text at a child path such as ``Refs/AcctSvcrRef``; None when any step is missing."""
    for tag in tags:
        el = _child(el, tag)
    return _text(el)


def _cents(text: str | None) -> int | None:
    """Exact cents of a decimal amount, None when it is not one (never via float)."""
    match = _AMOUNT.fullmatch(text) if text else None
    if not match or (match[2] and match[2][2:].strip("0")):
        return None
    return int(match[1]) * 100 + int((match[2] or "0")[:2].ljust(2, "0"))


class _Container:
    """One ``Stmt`` (camt.053) or ``Ntfctn`` (camt.054) and the sums used to verify it."""

    def __init__(self, name: str, index: int) -> None:
        self.path = f"{name}[{index}]"
        self.prefix = "" if index == 1 else f"{self.path}/"
        self.iban: str | None = None
        self.summary: Element | None = None
        self.balances: dict[str, tuple[int, date | None, Element]] = {}
        self.entries = 0
        self.credit_count = self.debit_count = 0
        self.credit = self.debit = self.booked_net = 0

    def add_entry(self, signed: int, booked: bool) -> None:
        self.entries += 1
        if signed >= 0:
            self.credit_count += 1
            self.credit += signed
        else:
            self.debit_count += 1
            self.debit -= signed
        if booked:
            self.booked_net += signed


def _details_path(entry_path: str, details: int) -> str:
    return f"{entry_path}/NtryDtls[{details}]" if details > 1 else f"{entry_path}/NtryDtls"


def _pick_reference(refs: tuple[str, ...]) -> tuple[str | None, ReferenceInfo]:
    """The reference to match on when a payment carries several (one ``Strd`` per invoice).

    Prefers one that yields a national reference, then any valid one, then the first.
    """
    best: tuple[str | None, ReferenceInfo] = (None, ("none", None, None))
    for ref in refs:
        info = classify_reference(ref)
        if info[2]:
            return ref, info
        if best[0] is None or (info[1] and not best[1][1]):
            best = (ref, info)
    return best


class _Parser:
    """Streaming state: the container being read and everything collected so far."""

    def __init__(self, fmt: str, version: str, namespace: str,
                 payments: list[BankPayment]) -> None:
        self.fmt = fmt
        self.version = version
        self.q = _Names(namespace)
        self.entry_slots = self.slots(_ENTRY_SLOTS)
        self.tx_slots = self.slots(_TX_SLOTS)
        self.refs_slots = self.slots(_REFS_SLOTS)
        self.parties_slots = self.slots(_PARTIES_SLOTS)
        self.ntry_dtls = self.q["NtryDtls"]
        self.t = SimpleNamespace(**{attr: self.q[name] for attr, name in _INNER.items()})
        self.domn, self.prtry = self.q["Domn"], self.q["Prtry"]
        self.cents_cache: dict[str, int] = {}
        self.dates: dict[str, date] = {}
        self.tx_codes: dict[bytes, tuple[str | None, str | None]] = {}
        self.container_name = "Stmt" if fmt == "camt.053" else "Ntfctn"
        self.containers = 0
        self.current: _Container | None = None
        self.previous: Element | None = None
        self.parent: Element | None = None
        self.payments = payments
        self.balances: list[StatementBalances] = []
        self.ibans: list[str | None] = []
        self.entry_count = 0
        self.message_id: str | None = None
        self.created: datetime | None = None

    def slots(self, names: tuple[str, ...]) -> dict[str, int]:
        """Qualified tag → slot for :func:`_first_children`."""
        return {self.q[name]: slot for slot, name in enumerate(names)}

    # -- values that can be wrong -------------------------------------------------------

    def error(self, el: Element | None, path: str, field: str | None, detail: str) -> BankFileError:
        line = el.sourceline if el is not None else None
        return BankFileError(detail, format=self.fmt, line=line, path=path, field=field)

    def amount(self, el: Element | None, path: str, field: str, owner: Element) -> int:
        text = _text(el)
        if text is None:
            raise self.error(owner, path, field, "amount missing")
        cents = _cents(text)
        if cents is None:
            raise self.error(el, path, field, f"{text!r} is not an amount in euros and cents")
        return cents

    def date(self, el: Element | None, path: str, field: str) -> date | None:
        """Date of a ``Dt``/``DtTm`` choice element (the local date as written)."""
        text = _text(el[0]) if el is not None and len(el) else None
        try:
            return date.fromisoformat(text[:10]) if text else None
        except ValueError:
            raise self.error(el, path, field, f"{text!r} is not a valid date") from None

    def indicator(self, el: Element | None, path: str, owner: Element) -> str:
        value = _text(el)
        if value not in ("CRDT", "DBIT"):
            raise self.error(
                owner if el is None else el, path, "CdtDbtInd", f"{value!r} is not CRDT or DBIT"
            )
        return value

    # -- streaming ----------------------------------------------------------------------

    def container(self) -> _Container:
        if self.current is None:
            self.containers += 1
            self.current = _Container(self.container_name, self.containers)
        return self.current

    def handle(self, el: Element) -> None:
        """Dispatch one finished element, then free it if it was an Ntry or a container.

        :func:`parse_camt` calls :meth:`entry` and :meth:`release` itself for ``Ntry``.
        """
        q, tag = self.q, el.tag
        if tag == q["Ntry"]:
            self.entry(el)
        elif tag == q[self.container_name]:
            self.close_container()
        elif tag == q["GrpHdr"]:
            self.group_header(el)
        elif tag == q["Bal"]:
            self.balance(el)
        elif tag == q["TxsSummry"]:
            self.container().summary = el  # checked when the container ends
        elif tag == q["Acct"] and el.getparent().tag == q[self.container_name]:
            self.container().iban = _path_text(el, q["Id"], q["IBAN"])
        if tag == q["Ntry"] or tag == q[self.container_name]:
            self.release(el)

    def release(self, el: Element) -> None:
        """Free a handled ``Ntry`` (or container) and drop the one handled before it.

        The previous element is removed only when it is this one's direct predecessor, so
        the container header (Acct, Bal, TxsSummry) stays until the container is done.
        """
        previous, self.previous = self.previous, el
        if previous is not None and previous.getnext() is el:
            el.getparent().remove(previous)
        el.clear(keep_tail=True)

    def group_header(self, el: Element) -> None:
        q = self.q
        self.message_id = _path_text(el, q["MsgId"])
        created = _path_text(el, q["CreDtTm"])
        try:
            self.created = datetime.fromisoformat(created) if created else None
        except ValueError:
            raise self.error(
                el, "GrpHdr/CreDtTm", "CreDtTm", f"{created!r} is not a valid date-time"
            ) from None

    def balance(self, el: Element) -> None:
        """Remember OPBD/PRCD/CLBD: the statement must add up from opening to closing."""
        q, container = self.q, self.container()
        kids = _kids(el)
        code = _path_text(kids.get(q["Tp"]), q["CdOrPrtry"], q["Cd"])
        if code not in ("OPBD", "PRCD", "CLBD"):
            return
        path = f"{container.path}/Bal[{code}]"
        cents = self.amount(kids.get(q["Amt"]), path, "Amt", el)
        if self.indicator(kids.get(q["CdtDbtInd"]), path, el) == "DBIT":
            cents = -cents
        container.balances[code] = (cents, self.date(kids.get(q["Dt"]), path, "Dt"), el)

    # -- entries and transactions (the hot path) ----------------------------------------

    def entry(self, ntry: Element) -> None:
        """Payments of one ``Ntry``: one per TxDtls, or the entry itself when it has none.

        Reads the children at their schema positions (banking spec d) with one dict lookup
        per child tag instead of a filtered walk of the whole subtree; values that fail the
        inline fast checks go through the generic methods, which raise the messages.
        """
        container = self.current or self.container()
        self.entry_count += 1
        path = f"{container.prefix}Ntry[{container.entries + 1}]"
        details: list[Element] = []
        found: list[Element | None] = [None] * len(_ENTRY_SLOTS)
        slots, ntry_dtls = self.entry_slots, self.ntry_dtls
        for child in ntry:
            tag = child.tag
            if tag == ntry_dtls:
                details.append(child)
                continue
            slot = slots.get(tag)
            if slot is not None and found[slot] is None:
                found[slot] = child
        amount_el, indicator_el, reversal_el, status, booking_el, value_el, archive_el, code_el = (
            found
        )
        amount_text = None if amount_el is None else amount_el.text
        signed = self.cents_cache.get(amount_text)  # type: ignore[arg-type]
        if signed is None:
            signed = self.amount(amount_el, path, "Amt", ntry)
            self.cents_cache[amount_text] = signed  # type: ignore[index]
        indicator = None if indicator_el is None else indicator_el.text
        if indicator == "DBIT":
            signed = -signed
        elif indicator != "CRDT":
            indicator = self.indicator(indicator_el, path, ntry)
            if indicator == "DBIT":
                signed = -signed
        # .02: <Sts>BOOK</Sts>, .08: <Sts><Cd>BOOK</Cd></Sts>
        code = None if status is None else (_text(status) or _path_text(status, self.q["Cd"]))
        booked = code == "BOOK"
        if not booked and code not in _NOT_BOOKED:
            raise self.status_error(status, ntry, path, code)
        container.add_entry(signed, booked)
        if not booked:
            return
        booking = self.day(booking_el, path, "BookgDt")
        if booking is None:
            raise self.error(ntry if booking_el is None else booking_el, path, "BookgDt",
                             "booking date missing")
        tx_code, tx_prtry = (None, None) if code_el is None else self.bank_tx_code(code_el)
        currency = amount_el.get("Ccy") or "EUR"
        entry_archive_id = None if archive_el is None else _text(archive_el)
        account_iban = container.iban
        value_date = None if value_el is None else self.day(value_el, path, "ValDt")
        reversal = reversal_el is not None and _text(reversal_el) in ("true", "1")
        txs: list[tuple[int, int, Element]] = []
        batches: dict[int, Element] = {}
        txdtls, btch = self.q["TxDtls"], self.q["Btch"]
        for number, dtls in enumerate(details, start=1):
            index = 0
            for child in dtls:
                tag = child.tag
                if tag == txdtls:
                    index += 1
                    txs.append((number, index, child))
                elif tag == btch and number not in batches:
                    batches[number] = child
        if not txs:  # no NtryDtls, or none with a TxDtls: the entry is the payment
            self.payments.append(
                self.bare_entry(
                    entry_archive_id,
                    account_iban,
                    booking,
                    value_date,
                    signed,
                    indicator,
                    currency,
                    reversal,
                    tx_code,
                    tx_prtry,
                    ntry,
                    path,
                )
            )
            return
        batched = len(txs) > 1 or bool(batches)
        only_amount = signed if len(txs) == 1 else None
        amounts: dict[int, list[int]] = {}
        shared = (
            entry_archive_id,
            account_iban,
            booking,
            value_date,
            signed,
            indicator,
            currency,
            reversal,
            tx_code,
            tx_prtry,
        )
        several = len(txs) > 1 and entry_archive_id is not None
        for position, (number, index, tx) in enumerate(txs, start=1):
            tx_path = f"{_details_path(path, number)}/TxDtls[{index}]"
            # TxDtls of a several-transaction entry without their own Refs/AcctSvcrRef get
            # "<entry archive id>/<n>" (n = 1-based TxDtls position in the entry): the
            # importer de-duplicates on archive id and would otherwise keep only the first.
            fallback = f"{entry_archive_id}/{position}" if several else entry_archive_id
            payment = self.transaction(tx, tx_path, shared, only_amount, batched, fallback)
            amounts.setdefault(number, []).append(payment.amount_cents)
            self.payments.append(payment)
        for number, batch in batches.items():
            self.check_batch(batch, amounts.get(number, []), f"{_details_path(path, number)}/Btch")

    def status_error(self, status: Element | None, ntry: Element, path: str,
                     code: str | None) -> BankFileError:
        """A missing or unknown ``Sts``: whether the bank booked the entry is unknown, and
        guessing either way books money wrongly or loses it, so the file is refused."""
        if status is None:
            return self.error(ntry, path, "Sts",
                              "status missing (expected BOOK, PDNG, INFO or FUTR)")
        return self.error(status, path, "Sts",
                          f"{code!r} is not an entry status (expected BOOK, PDNG, INFO or FUTR)")

    def day(self, el: Element | None, path: str, field: str) -> date | None:
        """:meth:`date` with a per-file cache: 100,000 entries carry a handful of dates."""
        first = el[0] if el is not None and len(el) else None
        text = None if first is None else first.text
        value = self.dates.get(text)  # type: ignore[arg-type]
        if value is None:
            value = self.date(el, path, field)
            if value is not None and text is not None:
                self.dates[text] = value
        return value

    def bank_tx_code(self, el: Element) -> tuple[str | None, str | None]:
        """``Domn/Cd/Fmly/Cd/SubFmlyCd`` joined as PMNT/RCDT/ESCT, and ``Prtry/Cd`` (e.g. 705).

        Every entry and transaction carries one and a file uses a handful, so the result is
        cached per serialised element (one C call, exact for any structure).
        """
        key = etree.tostring(el, with_tail=False)
        found = self.tx_codes.get(key)
        if found is None:
            found = self.tx_codes[key] = self.read_bank_tx_code(el)
        return found

    def read_bank_tx_code(self, el: Element) -> tuple[str | None, str | None]:
        """:meth:`bank_tx_code` uncached; reads by position as the schema fixes ``Cd`` first
        and ``Fmly`` second."""
        code = proprietary = None
        for part in el:
            tag = part.tag
            if tag == self.domn and len(part):
                codes = [_text(part[0])]
                if len(part) > 1:
                    codes += [_text(sub) for sub in part[1]]
                code = "/".join(filter(None, codes)) or None
            elif tag == self.prtry and len(part):
                proprietary = _text(part[0])
        return code, proprietary

    def check_batch(self, batch: Element, amounts: list[int], path: str) -> None:
        """``Btch/NbOfTxs`` and ``TtlAmt`` must agree with the TxDtls that were listed."""
        if not amounts:
            return
        q, kids = self.q, _kids(batch)
        stated_count = _text(kids.get(q["NbOfTxs"]))
        if stated_count is not None and stated_count != str(len(amounts)):
            raise self.error(
                kids[q["NbOfTxs"]],
                path,
                "NbOfTxs",
                f"says {stated_count} transactions, found {len(amounts)} TxDtls",
            )
        if q["TtlAmt"] in kids:
            stated = self.amount(kids[q["TtlAmt"]], path, "TtlAmt", batch)
            computed = sum(amounts)
            if q["CdtDbtInd"] not in kids:
                computed = abs(computed)  # the indicator is optional in .02
            elif self.indicator(kids[q["CdtDbtInd"]], path, batch) == "DBIT":
                stated = -stated
            if stated != computed:
                raise self.error(
                    kids[q["TtlAmt"]],
                    path,
                    "TtlAmt",
                    f"says {format_amount(stated)}, TxDtls add up to {format_amount(computed)}",
                )

    def bare_entry(
        self,
        entry_archive_id: str | None,
        account_iban: str | None,
        booking: date,
        value_date: date | None,
        signed: int,
        indicator: str,
        currency: str,
        reversal: bool,
        tx_code: str | None,
        tx_prtry: str | None,
        ntry: Element,
        path: str,
    ) -> BankPayment:
        """An entry that lists no TxDtls is itself the payment (no reference, no payer)."""
        return build_payment_unchecked(
            {
                "archive_id": entry_archive_id,
                "entry_archive_id": entry_archive_id,
                "account_iban": account_iban,
                "booking_date": booking,
                "value_date": value_date,
                "amount_cents": signed,
                "entry_amount_cents": signed,
                "currency": currency,
                "credit_debit": indicator,
                "reversal": reversal,
                "reference": None,
                "references": (),
                "reference_kind": "none",
                "reference_valid": None,
                "national_reference": None,
                "payer_name": None,
                "payer_iban": None,
                "creditor_name": None,
                "message": None,
                "end_to_end_id": None,
                "batched_entry": False,
                "bank_tx_code": tx_code,
                "bank_tx_prtry": tx_prtry,
                "return_reason": None,
                "name_source": None,
                "channel": None,
                "line": ntry.sourceline,
                "element": path,
            }
        )

    def transaction(
        self,
        tx: Element,
        path: str,
        shared: tuple[Any, ...],
        only_amount: int | None,
        batched: bool,
        fallback_archive_id: str | None,
    ) -> BankPayment:
        """One payment per TxDtls; its own amount, archive id and code win over the entry's.

        Children are read at their schema positions: ``Refs/AcctSvcrRef``, ``Refs/EndToEndId``,
        ``Amt`` + ``CdtDbtInd`` (.08) or ``AmtDtls/TxAmt/Amt`` (.02, never ``InstdAmt``),
        ``BkTxCd``, ``RltdPties/Dbtr|DbtrAcct|Cdtr``, ``RmtInf/Ustrd`` and
        ``RmtInf/Strd/CdtrRefInf/Ref``, ``RtrInf/Rsn/Cd``.
        """
        (
            entry_archive_id,
            account_iban,
            booking,
            value_date,
            entry_cents,
            indicator,
            currency,
            reversal,
            entry_code,
            entry_prtry,
        ) = shared
        t = self.t
        refs_el, amt_dtls_el, amt_el, indicator_el, code_el, parties_el, rmt_el, rtr_el = (
            _first_children(tx, self.tx_slots, len(_TX_SLOTS))
        )
        archive_el = e2e_el = tx_amt_el = dbtr_el = dbtr_acct_el = cdtr_el = None
        if refs_el is not None:
            archive_el, e2e_el = _first_children(refs_el, self.refs_slots, len(_REFS_SLOTS))
        if parties_el is not None:
            dbtr_el, dbtr_acct_el, cdtr_el = _first_children(
                parties_el, self.parties_slots, len(_PARTIES_SLOTS)
            )
        if amt_el is None and amt_dtls_el is not None:
            tx_amt_el = _path_child(amt_dtls_el, t.tx_amt, t.amt)
        ref_els, ustrd_els = ([], []) if rmt_el is None else self.remittance(rmt_el)
        # .08: TxDtls/Amt; .02: AmtDtls/TxAmt/Amt.
        amount_el = tx_amt_el if amt_el is None else amt_el
        if amount_el is not None:
            amount_text = amount_el.text
            signed = self.cents_cache.get(amount_text)  # type: ignore[arg-type]
            if signed is None:
                signed = self.amount(amount_el, path, "amount", tx)
                self.cents_cache[amount_text] = signed  # type: ignore[index]
            if indicator_el is not None:
                indicator = indicator_el.text
                if indicator != "CRDT" and indicator != "DBIT":
                    indicator = self.indicator(indicator_el, path, tx)
            if indicator == "DBIT":
                signed = -signed
            currency = amount_el.get("Ccy") or currency
        elif only_amount is not None:
            signed = only_amount
        else:
            raise self.error(tx, path, "amount", "amount missing in a TxDtls of a batch")
        if ref_els:
            references = tuple(ref for el in ref_els if (ref := _text(el)))
            if len(references) == 1:
                reference = references[0]
                kind_, valid, national = classify_reference(reference)
            else:
                reference, (kind_, valid, national) = _pick_reference(references)
        else:
            references, reference, kind_, valid, national = (), None, "none", None, None
        if ustrd_els:
            message = " ".join([text for el in ustrd_els if (text := _text(el))]) or None
        else:
            message = None
        if code_el is None:
            tx_code, tx_prtry = entry_code, entry_prtry
        else:
            tx_code, tx_prtry = self.bank_tx_code(code_el)
            tx_code, tx_prtry = tx_code or entry_code, tx_prtry or entry_prtry
        archive_id = None if archive_el is None else _text(archive_el)
        return build_payment_unchecked(
            {
                "archive_id": archive_id or fallback_archive_id,
                "entry_archive_id": entry_archive_id,
                "account_iban": account_iban,
                "booking_date": booking,
                "value_date": value_date,
                "amount_cents": signed,
                "entry_amount_cents": entry_cents,
                "currency": currency,
                "credit_debit": indicator,
                "reversal": reversal,
                "reference": reference,
                "references": references,
                "reference_kind": kind_,
                "reference_valid": valid,
                "national_reference": national,
                "payer_name": None if dbtr_el is None else self.party_name(dbtr_el),
                "payer_iban": (
                    None if dbtr_acct_el is None else _path_text(dbtr_acct_el, t.id, t.iban)
                ),
                "creditor_name": None if cdtr_el is None else self.party_name(cdtr_el),
                "message": message,
                "end_to_end_id": None if e2e_el is None else _text(e2e_el),
                "batched_entry": batched,
                "bank_tx_code": tx_code,
                "bank_tx_prtry": tx_prtry,
                "return_reason": None if rtr_el is None else _path_text(rtr_el, t.rsn, t.cd),
                "name_source": None,
                "channel": None,
                "line": tx.sourceline,
                "element": path,
            }
        )

    def remittance(self, rmt: Element) -> tuple[list[Element], list[Element]]:
        """``Ref`` elements at ``RmtInf/*/CdtrRefInf/Ref`` and ``Ustrd`` children of ``RmtInf``.

        Walks only the levels that can hold them (a few proxies) instead of every
        descendant of the TxDtls; both lists are in document order.
        """
        t = self.t
        refs: list[Element] = []
        ustrd: list[Element] = []
        for child in rmt:
            if child.tag == t.ustrd:
                ustrd.append(child)
            for info in child:
                if info.tag == t.cdtr_ref_inf:
                    refs.extend(ref for ref in info if ref.tag == t.ref)
        return refs, ustrd

    def party_name(self, el: Element) -> str | None:
        """``Nm`` (.02) or ``Pty/Nm`` (.08) of a Dbtr/Cdtr element."""
        for child in el:
            tag = child.tag
            if tag == self.t.nm:
                return _text(child)
            if tag == self.t.pty:
                return self.party_name(child)
        return None

    # -- container checks ---------------------------------------------------------------

    def close_container(self) -> None:
        container = self.container()
        if container.summary is not None:
            self.check_summary(container, _kids(container.summary))
        self.check_balances(container)
        self.ibans.append(container.iban)
        self.current = None

    def check_summary(self, container: _Container, kids: dict[str, Element]) -> None:
        """``TxsSummry`` totals, where present, must match the entries (all statuses)."""
        q, base = self.q, f"{container.path}/TxsSummry"
        groups = (
            ("TtlNtries", container.entries, container.credit + container.debit),
            ("TtlCdtNtries", container.credit_count, container.credit),
            ("TtlDbtNtries", container.debit_count, container.debit),
        )
        for group, count, total in groups:
            if q[group] not in kids:
                continue
            totals, path = _kids(kids[q[group]]), f"{base}/{group}"
            stated = _text(totals.get(q["NbOfNtries"]))
            if stated is not None and stated != str(count):
                raise self.error(
                    totals[q["NbOfNtries"]],
                    path,
                    "NbOfNtries",
                    f"says {stated} entries, the file has {count}",
                )
            if q["Sum"] in totals:
                self.compare(totals[q["Sum"]], path, "Sum", total)
            if group == "TtlNtries":
                self.check_net(totals, path, container.credit - container.debit)

    def check_net(self, kids: dict[str, Element], path: str, net: int) -> None:
        """Net total: ``TtlNetNtryAmt`` + ``CdtDbtInd`` (.02) or ``TtlNetNtry/Amt`` (.08)."""
        q = self.q
        if q["TtlNetNtryAmt"] in kids:
            owner = amount_el = kids[q["TtlNetNtryAmt"]]
            indicator = kids.get(q["CdtDbtInd"])
        elif q["TtlNetNtry"] in kids:
            path, owner = f"{path}/TtlNetNtry", kids[q["TtlNetNtry"]]
            amount_el, indicator = _child(owner, q["Amt"]), _child(owner, q["CdtDbtInd"])
        else:
            return
        sign = -1 if _text(indicator) == "DBIT" else 1
        self.compare(amount_el, path, "net amount", net, sign, owner)

    def compare(self, el: Element | None, path: str, field: str, computed: int, sign: int = 1,
                owner: Element | None = None) -> None:
        """A stated total against the computed one; `owner` locates a missing amount."""
        stated = sign * self.amount(el, path, field, el if owner is None else owner)
        if stated != computed:
            raise self.error(
                el,
                path,
                field,
                f"says {format_amount(stated)}, the entries add up to {format_amount(computed)}",
            )

    def check_balances(self, container: _Container) -> None:
        """Opening (OPBD, else PRCD) + booked credits − booked debits must equal CLBD."""
        opening = container.balances.get("OPBD") or container.balances.get("PRCD")
        closing = container.balances.get("CLBD")
        if opening is None or closing is None:
            return
        expected = opening[0] + container.booked_net
        if expected != closing[0]:
            raise self.error(
                closing[2],
                f"{container.path}/Bal[CLBD]",
                "Amt",
                f"closing balance {format_amount(closing[0])} does not match opening "
                f"{format_amount(opening[0])} + booked entries "
                f"{format_amount(container.booked_net)} = {format_amount(expected)}",
            )
        self.balances.append(
            StatementBalances(container.iban, opening[0], opening[1], closing[0], closing[1])
        )

    def result(self) -> ParsedFile:
        payments = tuple(self.payments)
        distinct = set(self.ibans)
        return ParsedFile(
            format=self.fmt,
            version=f"{self.fmt}.001.{self.version}",
            payments=payments,
            totals=Totals.of(payments),
            account_iban=distinct.pop() if len(distinct) == 1 else None,
            entry_count=self.entry_count,
            message_id=self.message_id,
            created=self.created,
            balances=tuple(self.balances),
        )


def _detect(data: bytes) -> tuple[str, str, str]:
    """(format, version, namespace) from the root element, e.g. ("camt.054", "02", "urn:…")."""
    try:
        _, root = next(
            etree.iterparse(
                BytesIO(data), events=("start",), resolve_entities=False, no_network=True
            )
        )
    except etree.XMLSyntaxError as exc:
        raise BankFileError(
            f"not well-formed XML: {exc.msg}", format="XML", line=exc.lineno
        ) from None
    except StopIteration:
        raise BankFileError("no XML root element", format="XML") from None
    match = _NAMESPACE.fullmatch(root.tag)
    if not match or match[3] not in SUPPORTED_VERSIONS:
        raise BankFileError(
            f"unsupported document {root.tag!r}: expected a Document in the namespace of "
            "camt.053.001.02/.08 or camt.054.001.02/.08",
            format="XML",
            line=root.sourceline,
        )
    return match[2], match[3], match[1]


def parse_camt(data: bytes, sink: list[BankPayment] | None = None) -> ParsedFile:
    """Parse and verify a camt.053/.054 file; raise :class:`BankFileError` on any defect.

    Only BOOK entries become payments (PDNG, INFO and FUTR are counted, not imported; a
    missing or other status refuses the file); batched entries give one payment per TxDtls. A
    TxDtls without its own ``Refs/AcctSvcrRef`` in an entry with several TxDtls gets the
    archive id ``"<entry AcctSvcrRef>/<n>"`` (n = its 1-based position among the entry's
    TxDtls), so that de-duplication on archive id keeps every payment of the batch and a
    re-imported file still yields the same ids. Verified when present: well-formedness,
    TxsSummry counts and sums, ``Btch`` count and total, and for statements
    OPBD + booked credits − booked debits = CLBD. Payments are appended to `sink` as they
    are read (see :func:`~membook_app.banking.statement.parse_bank_file`).
    """
    with gc_paused():
        return _parse_camt(data, [] if sink is None else sink)


def _parse_camt(data: bytes, payments: list[BankPayment]) -> ParsedFile:
    fmt, version, namespace = _detect(data)
    parser = _Parser(fmt, version, namespace, payments)
    names = ("Ntry", parser.container_name, "GrpHdr", "Acct", "Bal", "TxsSummry")
    events = etree.iterparse(
        BytesIO(data),
        events=("end",),
        tag=[parser.q[name] for name in names],
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=True,
        huge_tree=True,
    )
    ntry, entry, release, handle = parser.q["Ntry"], parser.entry, parser.release, parser.handle
    try:
        for _, el in events:
            if el.tag == ntry:
                entry(el)
                release(el)
            else:
                handle(el)
    except etree.XMLSyntaxError as exc:
        raise BankFileError(
            f"not well-formed XML: {exc.msg}", format=fmt, line=exc.lineno
        ) from None
    return parser.result()
