"""Member import from Excel or CSV: column mapping, a dry run, then one transaction.

The same two functions serve all three doors (UI, Huey task, CLI):

* `dry_run(session, actor, org_id, table, mapping)` validates every row and
  compares it with the register; nothing is written. The report counts new,
  updated, unchanged and erroneous rows and lists each error as row number,
  column, value and reason.
* `run_import(...)` plans the very same way *inside the write transaction*
  (so a register changed since the dry run is seen) and, only when no row has
  an error and the plan limit allows, writes everything in bulk: one INSERT
  of people, one set-based UPDATE of changed people, the memberships, the
  custom-field values, and one audit event. Any error raises and the caller's
  transaction rolls back: all or nothing.

Matching against the register: a row is the same person as a register
person with the same email (emails are unique logins), otherwise with the
same first name, last name and birth date. An empty cell never clears a
stored value. A matched person whose records the actor may not write (they
belong only to organisations outside the actor's grants) is not changed; the
row only gives them a membership here.

Audit decision: one `register.imported` event per import (counts, file name,
the ids of created and updated people, so a person's history leads to the
import), not one `person.created` event per row — 10,000 events would bury
the trail and double the write time without saying more.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import LimitReached, ValidationError
from membook_app.formatting import number as fmt_number
from membook_app.register import validation as v
from membook_app.register.custom_fields import clean_value, list_fields
from membook_app.register.importer_read import Cell, Table
from membook_app.register.limits import members_count, plan_of
from membook_app.register.memberships import membership_types
from membook_app.register.organizations import get_organization
from models import (
    CustomField,
    CustomFieldValue,
    Membership,
    MembershipStatusChange,
    Organization,
    Person,
    utcnow,
)

Progress = Callable[[int, int], None]
CHUNK = 1000
MAX_REPORTED_ERRORS = 1000

# Target fields in the order the mapping screen offers them: key → (fi, en).
FIELDS: dict[str, tuple[str, str]] = {
    "first_name": ("Etunimi", "First name"),
    "last_name": ("Sukunimi", "Last name"),
    "email": ("Sähköposti", "Email"),
    "phone": ("Puhelin", "Phone"),
    "street_address": ("Lähiosoite", "Street address"),
    "postal_code": ("Postinumero", "Postal code"),
    "city": ("Postitoimipaikka", "City"),
    "country": ("Maa", "Country"),
    "birth_date": ("Syntymäaika", "Birth date"),
    "language": ("Kieli", "Language"),
    "member_number": ("Jäsennumero", "Member number"),
    "start_date": ("Liittymispäivä", "Join date"),
    "membership_type": ("Jäsenlaji", "Membership type"),
}
PERSON_KEYS = ("email", "first_name", "last_name", "street_address", "postal_code", "city",
               "country", "phone", "birth_date", "language")
CUSTOM_PREFIX = "custom:"

_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("etunimi", "etunimet", "kutsumanimi", "first name", "firstname",
                   "given name", "forename", "fornamn", "förnamn"),
    "last_name": ("sukunimi", "last name", "lastname", "surname", "family name", "efternamn"),
    "email": ("sähköposti", "sähköpostiosoite", "sposti", "s posti", "email", "e mail",
              "email address", "e mail address", "mail", "e post", "epost"),
    "phone": ("puhelin", "puhelinnumero", "puh", "matkapuhelin", "gsm", "kännykkä", "phone",
              "phone number", "mobile", "mobile phone", "telephone", "tel", "telefon"),
    "street_address": ("lähiosoite", "katuosoite", "osoite", "postiosoite", "address",
                       "street address", "street", "adress", "gatuadress"),
    "postal_code": ("postinumero", "postinro", "postal code", "postcode", "post code", "zip",
                    "zip code", "postnummer"),
    "city": ("postitoimipaikka", "postitoimipaikka kunta", "kaupunki", "kotikunta",
             "paikkakunta", "kunta", "city", "town", "post office", "postort", "ort"),
    "country": ("maa", "country", "land", "maakoodi", "country code"),
    "birth_date": ("syntymäaika", "syntymäpäivä", "syntymäpvm", "syntynyt", "birth date",
                   "date of birth", "birthdate", "birthday", "dob", "födelsedatum"),
    "language": ("kieli", "asiointikieli", "äidinkieli", "language", "språk"),
    "member_number": ("jäsennumero", "jäsennro", "jäsen nro", "jäsen numero", "member number",
                      "member no", "membership number", "member id", "medlemsnummer"),
    "start_date": ("liittymispäivä", "liittymispäivämäärä", "liittymispvm", "liittynyt",
                   "liittymisaika", "jäsenyys alkaa", "jäsen alkaen", "join date", "joined",
                   "start date", "member since", "membership start"),
    "membership_type": ("jäsenlaji", "jäsentyyppi", "jäsenluokka", "jäsenyyden laji",
                        "membership type", "member type", "type", "medlemstyp"),
}
_LANGUAGE_WORDS = {"suomi": "fi", "finnish": "fi", "fin": "fi", "ruotsi": "sv",
                   "svenska": "sv", "swedish": "sv", "swe": "sv", "englanti": "en",
                   "english": "en", "eng": "en"}


def normalise_header(text: str) -> str:
    """Lower case, NFC, punctuation as spaces: 'Sähkö-posti ' → 'sähkö posti'."""
    text = unicodedata.normalize("NFC", str(text)).casefold()
    text = re.sub(r"[\s_\-./:()*#]+", " ", text)
    return text.strip()


_ALIAS_INDEX = {normalise_header(a): key for key, aliases in _ALIASES.items() for a in aliases}


def field_choices(custom: Sequence[CustomField]) -> list[tuple[str, str, str]]:
    """Every mappable target as (key, fi label, en label): the standard fields, then the
    organisation's custom fields."""
    out = [(k, fi, en) for k, (fi, en) in FIELDS.items()]
    out += [(CUSTOM_PREFIX + f.key, f.label, f.label) for f in custom]
    return out


def auto_mapping(headers: Sequence[str], custom: Sequence[CustomField] = ()) -> list[str]:
    """A target field per column ("" = not imported), from Finnish, Swedish and English
    headers and the custom fields' labels and keys. Each field is used once."""
    index = dict(_ALIAS_INDEX)
    for f in custom:
        index.setdefault(normalise_header(f.label), CUSTOM_PREFIX + f.key)
        index.setdefault(normalise_header(f.key), CUSTOM_PREFIX + f.key)
    used: set[str] = set()
    mapping: list[str] = []
    for header in headers:
        key = index.get(normalise_header(header), "")
        if key in used:
            key = ""
        used.add(key)
        mapping.append(key)
    return mapping


# ---------------------------------------------------------------- the report

@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    fi: str
    en: str

    def reason(self, lang: str = "fi") -> str:
        return self.en if lang == "en" else self.fi


@dataclass
class ImportReport:
    """What a dry run found, or what an import wrote (`written`)."""

    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    mapping: list[str] = field(default_factory=list)
    limit_fi: str = ""
    limit_en: str = ""
    written: bool = False

    @property
    def ok(self) -> bool:
        return self.error_rows == 0 and not self.limit_fi

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        data = dict(data)
        data["errors"] = [RowError(**e) for e in data.get("errors", [])]
        return cls(**data)


def format_report(report: ImportReport) -> list[str]:
    """The report as text lines (the CLI prints these; Finnish with English)."""
    head = "Tuonti tehty / import written" if report.written else \
        "Koeajo, mitään ei tallennettu / dry run, nothing written"
    lines = [
        head,
        f"rivejä / rows: {report.rows}",
        f"uusia / new: {report.new}",
        f"päivitettäviä / updated: {report.updated}",
        f"ennallaan / unchanged: {report.unchanged}",
        f"virheellisiä rivejä / rows with errors: {report.error_rows}",
    ]
    if report.limit_fi:
        lines.append(f"{report.limit_fi} / {report.limit_en}")
    for e in report.errors:
        lines.append(f"rivi / row {e.row}: {e.column} = {e.value!r}: {e.fi} / {e.en}")
    if len(report.errors) >= MAX_REPORTED_ERRORS:
        lines.append(f"... (näytetään {MAX_REPORTED_ERRORS} ensimmäistä virhettä / "
                     f"first {MAX_REPORTED_ERRORS} errors shown)")
    return lines


# ---------------------------------------------------------------- planning

@dataclass
class _Row:
    number: int
    values: dict[str, Any]              # cleaned standard fields (None = empty)
    custom: dict[int, str]              # field id → canonical text (only non-empty)
    type_id: int | None = None
    person_id: int | None = None        # matched register person
    may_write: bool = True


@dataclass
class _Plan:
    org: Organization
    report: ImportReport
    new_people: list[_Row] = field(default_factory=list)
    person_updates: list[dict[str, Any]] = field(default_factory=list)
    new_memberships: list[_Row] = field(default_factory=list)
    membership_updates: list[dict[str, Any]] = field(default_factory=list)
    value_updates: list[dict[str, Any]] = field(default_factory=list)
    value_inserts: list[tuple[_Row, int, str]] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)


def shown(value: Cell) -> str:
    """A cell as the report shows it (dates as d.m.yyyy)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value.day}.{value.month}.{value.year}"
    return str(value)[:200]


def _text(value: Cell) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _clean_standard(key: str, raw: Cell, country: str, types: dict[str, int]) -> Any:
    if key == "email":
        return v.clean_email(_text(raw))
    if key in ("first_name", "last_name"):
        return v.clean_name(_text(raw), key)
    if key == "street_address":
        return v.clean_text(_text(raw), key, 200)
    if key == "city":
        return v.clean_text(_text(raw), key, 100)
    if key == "postal_code":
        if isinstance(raw, int) and country == "FI" and 0 <= raw < 100_000:
            raw = f"{raw:05d}"  # Excel dropped the leading zero of 00100
        return v.clean_postal_code(_text(raw), country)
    if key == "phone":
        text = _text(raw)
        if isinstance(raw, int) and text and not text.startswith("0"):
            text = "0" + text  # Excel dropped the leading zero of 0401234567
        return v.clean_phone(text, country)
    if key == "country":
        return v.clean_country(_text(raw)) if _text(raw) else None
    if key == "birth_date":
        return v.clean_birth_date(v.parse_date(raw if isinstance(raw, date) else _text(raw), key))
    if key == "language":
        text = (_text(raw) or "").strip().casefold()
        if not text:
            return None
        return v.clean_language(_LANGUAGE_WORDS.get(text, text))
    if key == "start_date":
        return v.parse_date(raw if isinstance(raw, date) else _text(raw), key)
    if key == "member_number":
        text = (_text(raw) or "").strip()
        if not text:
            return None
        if not text.isdigit() or not 0 < int(text) < 2**31:
            raise ValidationError("Jäsennumero on positiivinen kokonaisluku",
                                  "A member number is a positive whole number", field=key)
        return int(text)
    if key == "membership_type":
        text = " ".join((_text(raw) or "").split())
        if not text:
            return None
        type_id = types.get(text.casefold())
        if type_id is None:
            raise ValidationError(f"Jäsenlajia {text!r} ei ole tässä yhdistyksessä",
                                  f"No membership type {text!r} in this organisation", field=key)
        return type_id
    raise ValidationError(f"Tuntematon kenttä {key}", f"Unknown field {key}", field=key)


def _check_mapping(table: Table, mapping: Sequence[str], custom: dict[str, CustomField]) -> None:
    if len(mapping) != len(table.headers):
        raise ValidationError("Sarakkeiden määrä ei täsmää tiedostoon",
                              "The mapping does not match the file's columns", field="mapping")
    seen: set[str] = set()
    for key in mapping:
        if not key:
            continue
        if key not in FIELDS and key not in custom:
            raise ValidationError(f"Tuntematon kenttä {key}", f"Unknown field {key}",
                                  field="mapping")
        if key in seen:
            label = FIELDS[key][0] if key in FIELDS else custom[key].label
            raise ValidationError(f"Kenttä {label} on valittu kahdelle sarakkeelle",
                                  f"Field {label} is chosen for two columns", field="mapping")
        seen.add(key)
    missing = [FIELDS[k] for k in ("first_name", "last_name") if k not in seen]
    if missing:
        raise ValidationError(f"Valitse sarake kentälle {missing[0][0]}",
                              f"Choose a column for {missing[0][1]}", field="mapping")


def _chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _plan(session: Session, actor: Actor | None, organization_id: int, table: Table,
          mapping: Sequence[str], progress: Progress | None) -> _Plan:
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("register.write", org)
    custom_fields = {CUSTOM_PREFIX + f.key: f
                     for f in list_fields(session, organization_id, include_ancestors=True)}
    _check_mapping(table, mapping, custom_fields)
    report = ImportReport(columns=list(table.headers), mapping=list(mapping))
    plan = _Plan(org=org, report=report)
    types = {t.name.casefold(): t.id for t in membership_types(session, org.id)}  # type: ignore[misc]
    columns = [(i, key) for i, key in enumerate(mapping) if key]
    country_col = next((i for i, key in columns if key == "country"), None)
    row_errors: dict[int, list[RowError]] = {}

    def fail(number: int, column: int, raw: Cell, exc: ValidationError) -> None:
        row_errors.setdefault(number, []).append(
            RowError(number, table.headers[column], shown(raw), exc.fi, exc.en))

    rows: list[_Row] = []
    total = len(table.rows)
    for index, cells in enumerate(table.rows):
        if progress is not None and index % 500 == 0:
            progress(index, total)
        if all(c is None or c == "" for c in cells):
            continue
        number = table.first_row + index
        report.rows += 1
        country = "FI"
        if country_col is not None:
            try:
                country = v.clean_country(_text(cells[country_col]) or "FI")
            except ValidationError:
                country = "FI"
        row = _Row(number=number, values={}, custom={})
        for column, key in columns:
            raw = cells[column]
            try:
                if key in custom_fields:
                    cf = custom_fields[key]
                    text = clean_value(cf, raw if not isinstance(raw, str) else raw.strip())
                    if text is not None:
                        row.custom[cf.id] = text  # type: ignore[index]
                else:
                    row.values[key] = _clean_standard(key, raw, country, types)
            except ValidationError as exc:
                fail(number, column, raw, exc)
        row.type_id = row.values.pop("membership_type", None)
        rows.append(row)

    col_of = {key: i for i, key in columns}

    def dup(row: _Row, key: str, fi: str, en: str) -> None:
        column = col_of[key]
        raw = table.rows[row.number - table.first_row][column]
        row_errors.setdefault(row.number, []).append(
            RowError(row.number, table.headers[column], shown(raw), fi, en))

    # Duplicates inside the file.
    by_email: dict[str, int] = {}
    by_name: dict[tuple[str, str, date], int] = {}
    by_number: dict[int, int] = {}
    for row in rows:
        if row.number in row_errors:
            continue
        email = row.values.get("email")
        if email:
            if email in by_email:
                dup(row, "email", f"Sama sähköposti kuin rivillä {by_email[email]}",
                    f"Same email as row {by_email[email]}")
            else:
                by_email[email] = row.number
        name_key = _name_key(row.values)
        if name_key is not None:
            if name_key in by_name:
                dup(row, "last_name", f"Sama nimi ja syntymäaika kuin rivillä {by_name[name_key]}",
                    f"Same name and birth date as row {by_name[name_key]}")
            else:
                by_name[name_key] = row.number
        member_number = row.values.get("member_number")
        if member_number is not None:
            if member_number in by_number:
                dup(row, "member_number",
                    f"Sama jäsennumero kuin rivillä {by_number[member_number]}",
                    f"Same member number as row {by_number[member_number]}")
            else:
                by_number[member_number] = row.number

    good = [r for r in rows if r.number not in row_errors]
    _match(session, actor, org, good, row_errors, dup)
    good = [r for r in rows if r.number not in row_errors]
    _compare(session, plan, good, row_errors, dup)

    plan.report.error_rows = len(row_errors)
    flat = [e for n in sorted(row_errors) for e in row_errors[n]]
    plan.report.errors = flat[:MAX_REPORTED_ERRORS]
    _check_limit(session, plan)
    if progress is not None:
        progress(total, total)
    return plan


def _name_key(values: dict[str, Any]) -> tuple[str, str, date] | None:
    if values.get("birth_date") and values.get("first_name") and values.get("last_name"):
        return (values["first_name"].casefold(), values["last_name"].casefold(),
                values["birth_date"])
    return None


def _match(session: Session, actor: Actor | None, org: Organization, rows: list[_Row],
           row_errors: dict[int, list[RowError]], dup: Callable[..., None]) -> None:
    """Find each row's register person: by email, else by name and birth date."""
    emails = sorted({r.values["email"] for r in rows if r.values.get("email")})
    email_ids: dict[str, int] = {}
    for chunk in _chunks(emails):
        email_ids.update(session.execute(
            sa.select(Person.email, Person.id).where(col(Person.email).in_(chunk))).all())
    births = sorted({r.values["birth_date"] for r in rows if _name_key(r.values)})
    name_ids: dict[tuple[str, str, date], list[int]] = {}
    person_emails: dict[int, str | None] = {}
    for chunk in _chunks(births):
        for pid, first, last, birth, email in session.execute(
                sa.select(Person.id, Person.first_name, Person.last_name, Person.birth_date,
                          Person.email).where(col(Person.birth_date).in_(chunk))).all():
            name_ids.setdefault((first.casefold(), last.casefold(), birth), []).append(pid)
            person_emails[pid] = email
    claimed: dict[int, int] = {}
    for row in rows:
        email = row.values.get("email")
        by_email = email_ids.get(email) if email else None
        key = _name_key(row.values)
        by_name = name_ids.get(key, []) if key else []
        if by_email is not None:
            if by_name and by_email not in by_name and len(by_name) == 1 \
                    and person_emails.get(by_name[0]):
                dup(row, "email", "Sähköposti kuuluu rekisterissä toiselle henkilölle, jolla on "
                    "eri nimi tai syntymäaika", "The email belongs to another register person "
                    "than the name and birth date")
                continue
            row.person_id = by_email
        elif by_name:
            if len(by_name) > 1:
                dup(row, "last_name", "Rekisterissä on useita henkilöitä tällä nimellä ja "
                    "syntymäajalla", "Several register people have this name and birth date")
                continue
            other_email = person_emails.get(by_name[0])
            if email and other_email and other_email != email:
                # Same name and birth, another email: most likely a new address of the
                # same person; it replaces the old one.
                pass
            row.person_id = by_name[0]
        if row.person_id is not None:
            if row.person_id in claimed:
                dup(row, "last_name", f"Sama henkilö kuin rivillä {claimed[row.person_id]}",
                    f"The same person as row {claimed[row.person_id]}")
                row.person_id = None
                continue
            claimed[row.person_id] = row.number
    # Which matched people the actor may change (members somewhere they may write).
    matched = sorted({r.person_id for r in rows if r.person_id is not None})
    if actor is None or actor.is_operator or not matched:
        return
    writable: set[int] = set()
    for chunk in _chunks(matched):
        for pid, path in session.execute(
                sa.select(Membership.person_id, Organization.path)
                .join(Organization, Organization.id == Membership.organization_id)
                .where(col(Membership.person_id).in_(chunk))).all():
            if actor.can("register.write", path):
                writable.add(pid)
    for row in rows:
        if row.person_id is not None:
            row.may_write = row.person_id in writable


def _compare(session: Session, plan: _Plan, rows: list[_Row],
             row_errors: dict[int, list[RowError]], dup: Callable[..., None]) -> None:
    """Decide per row: new, updated or unchanged; and what exactly to write."""
    org = plan.org
    report = plan.report
    matched = sorted({r.person_id for r in rows if r.person_id is not None})
    people: dict[int, dict[str, Any]] = {}
    memberships: dict[int, dict[str, Any]] = {}
    values: dict[tuple[int, int], tuple[int, str]] = {}
    field_ids = sorted({fid for r in rows for fid in r.custom})
    for chunk in _chunks(matched):
        for record in session.execute(
                sa.select(Person.id, *[getattr(Person, k) for k in PERSON_KEYS])
                .where(col(Person.id).in_(chunk))).all():
            people[record[0]] = dict(zip(PERSON_KEYS, record[1:], strict=True))
        for mid, pid, mtype, start, number in session.execute(
                sa.select(Membership.id, Membership.person_id, Membership.type_id,
                          Membership.start_date, Membership.member_number)
                .where(col(Membership.person_id).in_(chunk),
                       Membership.organization_id == org.id,
                       Membership.status == "active")).all():
            memberships[pid] = {"id": mid, "type_id": mtype, "start_date": start,
                                "member_number": number}
        if field_ids:
            for vid, pid, fid, text in session.execute(
                    sa.select(CustomFieldValue.id, CustomFieldValue.person_id,
                              CustomFieldValue.field_id, CustomFieldValue.value)
                    .where(col(CustomFieldValue.person_id).in_(chunk),
                           col(CustomFieldValue.field_id).in_(field_ids))).all():
                values[(pid, fid)] = (vid, text)
    wanted = sorted({r.values["member_number"] for r in rows
                     if r.values.get("member_number") is not None})
    taken: dict[int, int] = {}
    for chunk in _chunks(wanted):
        taken.update(session.execute(
            sa.select(Membership.member_number, Membership.person_id)
            .where(Membership.organization_id == org.id,
                   col(Membership.member_number).in_(chunk))).all())
    now = utcnow()
    for row in rows:
        number = row.values.get("member_number")
        if row.person_id is None:
            if number is not None and number in taken:
                dup(row, "member_number", f"Jäsennumero {number} on jo käytössä",
                    f"Member number {number} is taken")
                continue
            plan.new_people.append(row)
            plan.new_memberships.append(row)
            report.new += 1
            continue
        pid = row.person_id
        changed = False
        membership = memberships.get(pid)
        if membership is not None and number is not None \
                and number != membership["member_number"]:
            dup(row, "member_number",
                f"Henkilöllä on jo jäsennumero {membership['member_number']}",
                f"The person already has member number {membership['member_number']}")
            continue
        if membership is None and number is not None and taken.get(number, pid) != pid:
            dup(row, "member_number", f"Jäsennumero {number} on jo käytössä",
                f"Member number {number} is taken")
            continue
        if row.may_write:
            current = people[pid]
            changes = {k: val for k, val in row.values.items()
                       if k in PERSON_KEYS and val is not None and val != current.get(k)}
            if changes:
                plan.person_updates.append({"id": pid, **changes, "updated_at": now})
                changed = True
            for fid, text in row.custom.items():
                existing = values.get((pid, fid))
                if existing is None:
                    plan.value_inserts.append((row, fid, text))
                    changed = True
                elif existing[1] != text:
                    plan.value_updates.append({"id": existing[0], "value": text})
                    changed = True
        if membership is None:
            plan.new_memberships.append(row)
            changed = True
        else:
            update: dict[str, Any] = {}
            if row.type_id is not None and row.type_id != membership["type_id"]:
                update["type_id"] = row.type_id
            start = row.values.get("start_date")
            if start is not None and start != membership["start_date"]:
                update["start_date"] = start
            if update:
                plan.membership_updates.append({"id": membership["id"], **update})
                changed = True
        if changed:
            report.updated += 1
            plan.updated_ids.append(pid)
        else:
            report.unchanged += 1


def _check_limit(session: Session, plan: _Plan) -> None:
    """The plan's max_members, counted as `limits.members_count` counts it: distinct people
    with an active membership in the organisation's subtree; a person who already is one
    does not add to the count."""
    plan_row = plan_of(session, plan.org)
    if plan_row.max_members is None or not plan.new_memberships:
        return
    existing = sorted({r.person_id for r in plan.new_memberships if r.person_id is not None})
    already: set[int] = set()
    for chunk in _chunks(existing):
        already.update(session.execute(
            sa.select(Membership.person_id)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(col(Organization.path).startswith(plan.org.path),
                   Membership.status == "active",
                   col(Membership.person_id).in_(chunk))).scalars())
    adding = sum(1 for r in plan.new_memberships if r.person_id not in already)
    used = members_count(session, plan.org)
    if used + adding > plan_row.max_members:
        plan.report.limit_fi = (
            f"Jäsenraja: {plan.org.name} voi {plan_row.name}-paketissa pitää enintään "
            f"{fmt_number(plan_row.max_members)} jäsentä; nyt {fmt_number(used)}, tuonti lisäisi "
            f"{fmt_number(adding)}. Vaihda suurempaan pakettiin tai tuo vähemmän rivejä.")
        plan.report.limit_en = (
            f"Member limit: on the {plan_row.name} plan {plan.org.name} may have at most "
            f"{plan_row.max_members} members; it has {used} and the import would add "
            f"{adding}. Switch to a bigger plan or import fewer rows.")


# ---------------------------------------------------------------- the two entry points

def dry_run(session: Session, actor: Actor | None, organization_id: int, table: Table,
            mapping: Sequence[str], progress: Progress | None = None) -> ImportReport:
    """Validate and compare every row; writes nothing."""
    return _plan(session, actor, organization_id, table, mapping, progress).report


def run_import(session: Session, actor: Actor | None, organization_id: int, table: Table,
               mapping: Sequence[str], *, filename: str = "",
               progress: Progress | None = None) -> ImportReport:
    """Plan again inside this transaction and write everything, or raise and write nothing.

    Raises ValidationError when a row has an error and LimitReached over the
    plan's member limit; the caller's `session_scope` then rolls back.
    """
    plan = _plan(session, actor, organization_id, table, mapping,
                 None if progress is None else lambda d, t: progress(d * 9 // 10, t))
    report = plan.report
    if report.error_rows:
        raise ValidationError(
            f"Tiedostossa on {report.error_rows} virheellistä riviä; mitään ei tallennettu",
            f"The file has {report.error_rows} rows with errors; nothing was written",
            field="file")
    if report.limit_fi:
        raise LimitReached(report.limit_fi, report.limit_en)
    try:
        _write(session, actor, plan, filename)
    except IntegrityError:
        session.rollback()
        raise ValidationError(
            "Rekisteri muuttui tuonnin aikana; tee koeajo uudelleen",
            "The register changed during the import; run the dry run again") from None
    report.written = True
    # No progress call after the writes: on SQLite a progress row written from another
    # connection would wait for this transaction's lock. The job's end reports 100 %.
    return report


def _write(session: Session, actor: Actor | None, plan: _Plan, filename: str) -> None:
    org = plan.org
    now = utcnow()
    person_rows = []
    for row in plan.new_people:
        data = {k: row.values.get(k) for k in PERSON_KEYS}
        data["country"] = data["country"] or "FI"
        data["language"] = data["language"] or "fi"
        person_rows.append({**data, "created_at": now, "updated_at": now})
    for chunk_rows, chunk_people in zip(_chunks(person_rows), _chunks(plan.new_people),
                                        strict=True):
        ids = session.execute(
            sa.insert(Person).returning(Person.id, sort_by_parameter_order=True),
            list(chunk_rows)).scalars().all()
        for row, pid in zip(chunk_people, ids, strict=True):
            row.person_id = pid
    for chunk in _chunks(plan.person_updates):
        session.execute(sa.update(Person), list(chunk))

    next_number = session.execute(
        sa.select(sa.func.max(Membership.member_number))
        .where(Membership.organization_id == org.id)).scalar_one() or 0
    given = [r.values["member_number"] for r in plan.new_memberships
             if r.values.get("member_number") is not None]
    next_number = max([next_number, *given]) + 1
    today = date.today()
    membership_rows = []
    for row in plan.new_memberships:
        number = row.values.get("member_number")
        if number is None:
            number, next_number = next_number, next_number + 1
        membership_rows.append({
            "person_id": row.person_id, "organization_id": org.id, "member_number": number,
            "type_id": row.type_id, "start_date": row.values.get("start_date") or today,
            "status": "active", "created_at": now,
        })
    history = []
    for chunk in _chunks(membership_rows):
        ids = session.execute(
            sa.insert(Membership).returning(Membership.id, sort_by_parameter_order=True),
            list(chunk)).scalars().all()
        history += [{"membership_id": mid, "at": now, "from_status": None,
                     "to_status": "active", "reason": "tuonti / import",
                     "actor_user_id": actor.user_id if actor else None} for mid in ids]
    for chunk in _chunks(history):
        session.execute(sa.insert(MembershipStatusChange), list(chunk))
    for chunk in _chunks(plan.membership_updates):
        session.execute(sa.update(Membership), list(chunk))

    value_rows = [{"person_id": r.person_id, "field_id": fid, "value": text}
                  for r, fid, text in plan.value_inserts]
    value_rows += [{"person_id": r.person_id, "field_id": fid, "value": text}
                   for r in plan.new_people for fid, text in r.custom.items()]
    for chunk in _chunks(value_rows):
        session.execute(sa.insert(CustomFieldValue), list(chunk))
    for chunk in _chunks(plan.value_updates):
        session.execute(sa.update(CustomFieldValue), list(chunk))

    report = plan.report
    audit.record(session, actor, "register.imported", "organization", org.id,
                 organization_id=org.id, after={
                     "file": filename[:200], "rows": report.rows, "new": report.new,
                     "updated": report.updated, "unchanged": report.unchanged,
                     "memberships_added": len(membership_rows),
                     "created_person_ids": [r.person_id for r in plan.new_people],
                     "updated_person_ids": plan.updated_ids,
                 })
    session.flush()


def organization_fields(session: Session, organization_id: int) -> list[CustomField]:
    """The custom fields a file for this organisation may fill (its own and its ancestors')."""
    return list_fields(session, organization_id, include_ancestors=True)


def suggest_mapping(session: Session, organization_id: int, headers: Sequence[str]) -> list[str]:
    """`auto_mapping` with the organisation's custom fields."""
    return auto_mapping(headers, organization_fields(session, organization_id))

