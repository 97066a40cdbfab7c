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
from typing import Any

from lxml import etree

from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
    ParsedFile,
    ReferenceInfo,
    StatementBalances,
    Totals,
    build_payment,
    classify_reference,
    format_amount,
)

_NAMESPACE = re.compile(r"\{(urn:iso:std:iso:20022:tech:xsd:(camt\.05[34])\.001\.(\d\d))\}Document")
SUPPORTED_VERSIONS = ("02", "08")
_AMOUNT = re.compile(r"(\d{1,18})(?:\.(\d{1,5}))?", re.ASCII)

# Local names that :meth:`_Parser.collect` sorts out of an entry; the rest is skipped.
_WANTED = (
    "NtryDtls TxDtls Btch Amt CdtDbtInd RvslInd Sts BookgDt ValDt AcctSvcrRef BkTxCd"
    " EndToEndId Dbtr Cdtr DbtrAcct Ref Ustrd RtrInf"
).split()

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

    def __init__(self, fmt: str, version: str, namespace: str) -> None:
        self.fmt = fmt
        self.version = version
        self.q = _Names(namespace)
        self.wanted = {self.q[name]: name for name in _WANTED}
        self.container_name = "Stmt" if fmt == "camt.053" else "Ntfctn"
        self.containers = 0
        self.current: _Container | None = None
        self.previous: Element | None = None
        self.parent: Element | None = None
        self.payments: list[BankPayment] = []
        self.balances: list[StatementBalances] = []
        self.ibans: list[str | None] = []
        self.entry_count = 0
        self.message_id: str | None = None
        self.created: datetime | None = None

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
        """Dispatch one finished element, then free it if it was an Ntry or a container."""
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
            # Drop the element handled before this one; holding the parent proxy makes the
            # next getparent() free instead of building a new proxy per entry.
            previous, self.previous = self.previous, el
            if previous is not None and previous.getnext() is el:
                self.parent = el.getparent()
                self.parent.remove(previous)
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

    # -- entries and transactions -------------------------------------------------------

    def entry(self, ntry: Element) -> None:
        """Payments of one ``Ntry``: one per TxDtls, or the entry itself when it has none."""
        container = self.container()
        self.entry_count += 1
        path = f"{container.prefix}Ntry[{container.entries + 1}]"
        fields, txs, batches = self.collect(ntry)
        amount_el = fields.get("Amt")
        signed = self.amount(amount_el, path, "Amt", ntry)
        indicator = self.indicator(fields.get("CdtDbtInd"), path, ntry)
        if indicator == "DBIT":
            signed = -signed
        status = fields.get("Sts")  # .02: <Sts>BOOK</Sts>, .08: <Sts><Cd>BOOK</Cd></Sts>
        booked = (_text(status) or _path_text(status, self.q["Cd"])) == "BOOK"
        container.add_entry(signed, booked)
        if not booked:
            return
        booking = self.date(fields.get("BookgDt"), path, "BookgDt")
        if booking is None:
            raise self.error(ntry, path, "BookgDt", "booking date missing")
        tx_code, tx_prtry = self.bank_tx_code(fields.get("BkTxCd"))
        entry = {
            "entry_archive_id": _text(fields.get("AcctSvcrRef")),
            "account_iban": container.iban,
            "booking_date": booking,
            "value_date": self.date(fields.get("ValDt"), path, "ValDt"),
            "entry_amount_cents": signed,
            "credit_debit": indicator,
            "currency": amount_el.get("Ccy") or "EUR",
            "reversal": _text(fields.get("RvslInd")) in ("true", "1"),
            "bank_tx_code": tx_code,
            "bank_tx_prtry": tx_prtry,
            "name_source": None,
            "channel": None,
        }
        if not txs:
            self.payments.append(self.bare_entry(entry, ntry, path))
            return
        batched = len(txs) > 1 or bool(batches)
        amounts: dict[int, list[int]] = {}
        for found in txs:
            details, index = found["#"]
            tx_path = f"{_details_path(path, details)}/TxDtls[{index}]"
            payment = self.transaction(
                found, tx_path, entry, signed if len(txs) == 1 else None, batched
            )
            amounts.setdefault(details, []).append(payment.amount_cents)
            self.payments.append(payment)
        for details, batch in batches.items():
            self.check_batch(
                batch, amounts.get(details, []), f"{_details_path(path, details)}/Btch"
            )

    def collect(
        self, ntry: Element
    ) -> tuple[dict[str, Element], list[dict[str, Any]], dict[int, Element]]:
        """Sort the wanted elements of an entry in one pre-order pass.

        lxml's C iterator (filtering the wanted tags) is several times cheaper than walking
        children from Python, and this is the parser's hottest loop. Returns the entry-level
        elements by local name, one dict per TxDtls (``""``: the element, ``"#"``: its
        NtryDtls and TxDtls numbers) and the ``Btch`` per NtryDtls number. Names whose
        meaning depends on the parent (``Amt``, ``CdtDbtInd``, ``Ref``) are checked against it.
        """
        wanted, q = self.wanted, self.q
        fields: dict[str, Any] = {}
        txs: list[dict[str, Any]] = []
        batches: dict[int, Element] = {}
        target, owner, details, index = fields, ntry, 0, 0
        for el in ntry.iter(*wanted):
            name = wanted[el.tag]
            if name == "NtryDtls":
                target, owner, details, index = {}, None, details + 1, 0
            elif name == "TxDtls":
                index += 1
                target = {"": el, "#": (details, index), "Ref": [], "Ustrd": []}
                owner = el
                txs.append(target)
            elif name == "Btch":
                batches[details] = el
            elif name == "Amt" or name == "CdtDbtInd":
                parent = el.getparent()
                if parent is owner:
                    target.setdefault(name, el)
                elif name == "Amt" and "" in target and parent.tag == q["TxAmt"]:
                    target.setdefault("TxAmt", el)  # .02 AmtDtls/TxAmt/Amt, never InstdAmt
            elif name == "Ref" or name == "Ustrd":
                if "" in target and (name == "Ustrd" or el.getparent().tag == q["CdtrRefInf"]):
                    target[name].append(el)
            else:
                target.setdefault(name, el)
        return fields, txs, batches

    def bank_tx_code(self, el: Element | None) -> tuple[str | None, str | None]:
        """``Domn/Cd/Fmly/Cd/SubFmlyCd`` joined as PMNT/RCDT/ESCT, and ``Prtry/Cd`` (e.g. 705).

        Reads by position: the schema fixes ``Cd`` first and ``Fmly`` second, and this runs
        for every entry.
        """
        code = proprietary = None
        for part in () if el is None else el:
            if part.tag == self.q["Domn"] and len(part):
                codes = [_text(part[0])]
                if len(part) > 1:
                    codes += [_text(sub) for sub in part[1]]
                code = "/".join(filter(None, codes)) or None
            elif part.tag == self.q["Prtry"] and len(part):
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

    def bare_entry(self, entry: dict[str, Any], ntry: Element, path: str) -> BankPayment:
        """An entry that lists no TxDtls is itself the payment (no reference, no payer)."""
        return build_payment(
            {
                **entry,
                "archive_id": entry["entry_archive_id"],
                "amount_cents": entry["entry_amount_cents"],
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
                "return_reason": None,
                "line": ntry.sourceline,
                "element": path,
            }
        )

    def transaction(
        self,
        found: dict[str, Any],
        path: str,
        entry: dict[str, Any],
        only_amount: int | None,
        batched: bool,
    ) -> BankPayment:
        """One payment per TxDtls; its own amount, archive id and code win over the entry's."""
        q, tx = self.q, found[""]
        # .08: TxDtls/Amt; .02: AmtDtls/TxAmt/Amt (collected as "TxAmt").
        amount_el = found.get("Amt")
        if amount_el is None:
            amount_el = found.get("TxAmt")
        indicator, currency = entry["credit_debit"], entry["currency"]
        if amount_el is not None:
            signed = self.amount(amount_el, path, "amount", tx)
            if "CdtDbtInd" in found:
                indicator = self.indicator(found["CdtDbtInd"], path, tx)
            if indicator == "DBIT":
                signed = -signed
            currency = amount_el.get("Ccy") or currency
        elif only_amount is not None:
            signed = only_amount
        else:
            raise self.error(tx, path, "amount", "amount missing in a TxDtls of a batch")
        references = tuple(ref for el in found["Ref"] if (ref := _text(el)))
        reference, (kind, valid, national) = _pick_reference(references)
        messages = [text for el in found["Ustrd"] if (text := _text(el))]
        own_code, own_prtry = self.bank_tx_code(found.get("BkTxCd"))
        return build_payment(
            {
                **entry,
                "archive_id": _text(found.get("AcctSvcrRef")) or entry["entry_archive_id"],
                "amount_cents": signed,
                "credit_debit": indicator,
                "currency": currency,
                "reference": reference,
                "references": references,
                "reference_kind": kind,
                "reference_valid": valid,
                "national_reference": national,
                "payer_name": self.party_name(found.get("Dbtr")),
                "payer_iban": _path_text(found.get("DbtrAcct"), q["Id"], q["IBAN"]),
                "creditor_name": self.party_name(found.get("Cdtr")),
                "message": " ".join(messages) or None,
                "end_to_end_id": _text(found.get("EndToEndId")),
                "batched_entry": batched,
                "bank_tx_code": own_code or entry["bank_tx_code"],
                "bank_tx_prtry": own_prtry or entry["bank_tx_prtry"],
                "return_reason": _path_text(found.get("RtrInf"), q["Rsn"], q["Cd"]),
                "line": tx.sourceline,
                "element": path,
            }
        )

    def party_name(self, el: Element | None) -> str | None:
        """``Nm`` (.02) or ``Pty/Nm`` (.08) of a Dbtr/Cdtr element."""
        for child in () if el is None else el:
            if child.tag == self.q["Nm"]:
                return _text(child)
            if child.tag == self.q["Pty"]:
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
            amount_el, indicator = kids[q["TtlNetNtryAmt"]], kids.get(q["CdtDbtInd"])
        elif q["TtlNetNtry"] in kids:
            path = f"{path}/TtlNetNtry"
            amount_el = _child(kids[q["TtlNetNtry"]], q["Amt"])
            indicator = _child(kids[q["TtlNetNtry"]], q["CdtDbtInd"])
        else:
            return
        self.compare(amount_el, path, "net amount", net, -1 if _text(indicator) == "DBIT" else 1)

    def compare(self, el: Element, path: str, field: str, computed: int, sign: int = 1) -> None:
        stated = sign * self.amount(el, path, field, el)
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


def parse_camt(data: bytes) -> ParsedFile:
    """Parse and verify a camt.053/.054 file; raise :class:`BankFileError` on any defect.

    Only BOOK entries become payments; batched entries give one payment per TxDtls.
    Verified when present: well-formedness, TxsSummry counts and sums, ``Btch`` count and
    total, and for statements OPBD + booked credits − booked debits = CLBD.
    """
    fmt, version, namespace = _detect(data)
    parser = _Parser(fmt, version, namespace)
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
    try:
        for _, el in events:
            parser.handle(el)
    except etree.XMLSyntaxError as exc:
        raise BankFileError(
            f"not well-formed XML: {exc.msg}", format=fmt, line=exc.lineno
        ) from None
    return parser.result()
