"""Custom fields: an organisation's own register fields and the people's values.

A field belongs to one organisation and applies to everyone with a
membership (any status) in that organisation's subtree, so a federation's
field is seen in every club below it. Values are stored as text in one
canonical form per kind:

| kind   | accepted input                                   | stored        |
| ------ | ------------------------------------------------ | ------------- |
| text   | any text up to 1000 characters                   | trimmed text  |
| number | 12, -3, 12,5, 12.5, "1 200,50"                   | "1200.5"      |
| date   | d.m.yyyy or yyyy-mm-dd (or a `date`)             | "2026-11-28"  |
| choice | one of the field's choices (case-insensitive)    | the choice    |
| bool   | kyllä/ei, yes/no, true/false, 1/0, x (or a bool) | "true"/"false"|

An empty value removes the stored value (refused for required fields).

API used by import/export and the UI:

* `list_fields(session, org_id, include_ancestors=False)` — field definitions.
* `fields_for_person(session, person_id)` — every field that applies to the person.
* `clean_value(field, raw)` — validate one value without writing (import dry runs).
* `values_for(session, person_ids, field_ids)` — {person_id: {field_id: stored text}}.
* `typed_value(field, text)` / `display_value(field, text, lang)` — for Excel and screens.
* `set_values(session, actor, person_id, {key: value}, organization_id=...)`.
* `bulk_set_values(session, actor, organization_id, {person_id: {key: value}})`.
* `create_field`, `update_field`, `delete_field` — definitions (org.manage).
* `filter_condition(session, actor, org_id, field_id, value)` — for register search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import DomainError, FormErrors, NotFound, ValidationError
from membook_app.register import validation as v
from membook_app.register.organizations import get_organization
from models import CUSTOM_FIELD_KINDS, CustomField, CustomFieldValue, Membership, Organization

KIND_LABELS = {
    "text": ("Teksti", "Text"),
    "number": ("Numero", "Number"),
    "date": ("Päivämäärä", "Date"),
    "choice": ("Valinta", "Choice"),
    "bool": ("Kyllä/ei", "Yes/no"),
}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TRUE = {"true", "1", "kyllä", "kylla", "k", "yes", "y", "x", "on", "ja"}
_FALSE = {"false", "0", "ei", "e", "no", "n", "off", "nej"}
MAX_TEXT = 1000
MAX_FIELDS_PER_ORG = 50


# ---------------------------------------------------------------- values by kind

def clean_value(field: CustomField, raw: Any) -> str | None:
    """The canonical stored text of `raw` for this field, None for empty.

    Raises ValidationError (field = the field's key) for a value the kind
    does not accept, or for an empty value of a required field.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if field.required:
            raise ValidationError(f"{field.label}: pakollinen tieto", f"{field.label}: required",
                                  field=field.key)
        return None
    kind = field.kind
    if kind == "text":
        text = str(raw).strip()
        if len(text) > MAX_TEXT:
            raise ValidationError(f"{field.label}: liian pitkä (enintään {MAX_TEXT} merkkiä)",
                                  f"{field.label}: too long (max {MAX_TEXT})", field=field.key)
        return text
    if kind == "number":
        if isinstance(raw, bool):
            raise _bad(field, "numero", "a number")
        if isinstance(raw, (int, float, Decimal)):
            number = Decimal(str(raw))
        else:
            text = str(raw).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise _bad(field, "numero", "a number") from None
        if not number.is_finite() or abs(number) >= Decimal(10) ** 15:
            raise _bad(field, "numero", "a number")
        normal = number.normalize()
        return format(normal, "f") if normal != 0 else "0"
    if kind == "date":
        if isinstance(raw, date):
            return raw.isoformat()
        try:
            parsed = v.parse_date(str(raw), field.key)
        except ValidationError:
            raise _bad(field, "päivämäärä muodossa p.k.vvvv", "a date as d.m.yyyy") from None
        assert parsed is not None
        return parsed.isoformat()
    if kind == "choice":
        text = str(raw).strip()
        for choice in field.choices or []:
            if choice.casefold() == text.casefold():
                return choice
        options = ", ".join(field.choices or [])
        raise ValidationError(f"{field.label}: valitse jokin näistä: {options}",
                              f"{field.label}: choose one of: {options}", field=field.key)
    if kind == "bool":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        text = str(raw).strip().casefold()
        if text in _TRUE:
            return "true"
        if text in _FALSE:
            return "false"
        raise _bad(field, "kyllä tai ei", "yes or no")
    raise ValidationError(f"Tuntematon kenttätyyppi {kind}", f"Unknown field kind {kind}",
                          field=field.key)


def _bad(field: CustomField, fi: str, en: str) -> ValidationError:
    return ValidationError(f"{field.label}: arvon on oltava {fi}",
                           f"{field.label}: the value must be {en}", field=field.key)


def typed_value(field: CustomField, text: str | None) -> Any:
    """The stored text as a Python value: str, int/Decimal, date, bool (for Excel cells)."""
    if text is None:
        return None
    if field.kind == "number":
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else number
    if field.kind == "date":
        return date.fromisoformat(text)
    if field.kind == "bool":
        return text == "true"
    return text


def display_value(field: CustomField, text: str | None, lang: str = "fi") -> str:
    """The stored text for people to read: 12,5 · 28.11.2026 · kyllä/yes."""
    if text is None:
        return ""
    if field.kind == "number":
        return text.replace(".", ",") if lang != "en" else text
    if field.kind == "date":
        d = date.fromisoformat(text)
        return f"{d.day}.{d.month}.{d.year}"
    if field.kind == "bool":
        if lang == "en":
            return "yes" if text == "true" else "no"
        return "kyllä" if text == "true" else "ei"
    return text


def form_value(field: CustomField, text: str | None) -> str:
    """The stored text as an edit form shows it (Finnish forms, accepted back by clean_value)."""
    if text is None:
        return ""
    if field.kind in ("number", "date"):
        return display_value(field, text, "fi")
    return text


# ---------------------------------------------------------------- definitions

def list_fields(session: Session, org_id: int, *,
                include_ancestors: bool = False) -> list[CustomField]:
    """The organisation's field definitions in display order (with ancestors' fields first
    when `include_ancestors`: those apply to the organisation's members too)."""
    org = get_organization(session, org_id)
    if include_ancestors:
        ids = [int(p) for p in org.path.strip("/").split("/") if p]
    else:
        ids = [org.id]  # type: ignore[list-item]
    fields = list(session.exec(select(CustomField).where(
        col(CustomField.organization_id).in_(ids))))
    depth = {org_id: i for i, org_id in enumerate(ids)}
    fields.sort(key=lambda f: (depth[f.organization_id], f.position, f.id or 0))
    return fields


def get_field(session: Session, field_id: int) -> CustomField:
    field = session.get(CustomField, field_id)
    if field is None:
        raise NotFound("Kenttää ei löydy", "Field not found", field="field")
    return field


def _person_org_paths(session: Session, person_id: int) -> list[str]:
    return list(session.exec(
        select(Organization.path).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.person_id == person_id).distinct()))


def fields_for_person(session: Session, person_id: int) -> list[CustomField]:
    """Every field that applies to the person: fields of the organisations they belong to
    (or belonged to) and of those organisations' ancestors."""
    org_ids: set[int] = set()
    for path in _person_org_paths(session, person_id):
        org_ids.update(int(p) for p in path.strip("/").split("/") if p)
    if not org_ids:
        return []
    rows = session.exec(
        select(CustomField, Organization.path)
        .join(Organization, Organization.id == CustomField.organization_id)
        .where(col(CustomField.organization_id).in_(org_ids))).all()
    rows = sorted(rows, key=lambda r: (len(r[1]), r[1], r[0].position, r[0].id or 0))
    return [f for f, _ in rows]


def _field_snapshot(field: CustomField) -> dict[str, Any]:
    return {"key": field.key, "label": field.label, "kind": field.kind,
            "choices": field.choices, "required": field.required,
            "visible_to_member": field.visible_to_member, "position": field.position}


def _clean_definition(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, DomainError] = {}
    cleaned: dict[str, Any] = {}
    if "key" in data:
        key = str(data["key"] or "").strip().lower()
        if not _KEY.match(key):
            errors["key"] = ValidationError(
                "Tunniste: pienet kirjaimet a–z, numerot ja _, alkaa kirjaimella (enintään 40)",
                "Key: lower-case a–z, digits and _, starting with a letter (max 40)", field="key")
        cleaned["key"] = key
    if "label" in data:
        label = " ".join(str(data["label"] or "").split())
        if not label or len(label) > 100:
            errors["label"] = ValidationError("Nimi on pakollinen (enintään 100 merkkiä)",
                                              "A label is required (max 100)", field="label")
        cleaned["label"] = label
    if "kind" in data:
        if data["kind"] not in CUSTOM_FIELD_KINDS:
            errors["kind"] = ValidationError("Tuntematon kenttätyyppi", "Unknown field kind",
                                             field="kind")
        cleaned["kind"] = data["kind"]
    if "choices" in data:
        raw = data["choices"]
        items = raw.split(",") if isinstance(raw, str) else list(raw or [])
        choices: list[str] = []
        for item in items:
            item = " ".join(str(item).split())
            if item and item.casefold() not in {c.casefold() for c in choices}:
                choices.append(item[:100])
        cleaned["choices"] = choices or None
    for flag in ("required", "visible_to_member"):
        if flag in data:
            cleaned[flag] = bool(data[flag])
    if "position" in data:
        try:
            cleaned["position"] = int(data["position"] or 0)
        except (TypeError, ValueError):
            errors["position"] = ValidationError("Järjestys on numero", "Position is a number",
                                                 field="position")
    if errors:
        raise FormErrors(errors)
    return cleaned


def create_field(session: Session, actor: Actor | None, organization_id: int,
                 data: Mapping[str, Any]) -> CustomField:
    """Define a field for the organisation (admins of the organisation; audited)."""
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("org.manage", org)
    cleaned = _clean_definition({"kind": "text", **data})
    missing = {k: ValidationError("Pakollinen tieto", "Required", field=k)
               for k in ("key", "label") if not cleaned.get(k)}
    if missing:
        raise FormErrors(missing)
    if cleaned["kind"] == "choice" and not cleaned.get("choices"):
        raise FormErrors({"choices": ValidationError(
            "Valintakentälle tarvitaan vaihtoehdot (pilkuin eroteltuina)",
            "A choice field needs its choices (comma-separated)", field="choices")})
    if cleaned["kind"] != "choice":
        cleaned["choices"] = None
    taken = session.exec(select(CustomField.id).where(
        CustomField.organization_id == org.id, CustomField.key == cleaned["key"])).first()
    if taken is not None:
        raise FormErrors({"key": ValidationError("Tunniste on jo käytössä",
                                                 "The key is already used", field="key")})
    count = session.exec(select(sa.func.count()).select_from(CustomField).where(
        CustomField.organization_id == org.id)).one()
    if count >= MAX_FIELDS_PER_ORG:
        raise ValidationError(f"Enintään {MAX_FIELDS_PER_ORG} omaa kenttää",
                              f"At most {MAX_FIELDS_PER_ORG} custom fields")
    if "position" not in cleaned:
        cleaned["position"] = int(count) + 1
    field = CustomField(organization_id=org.id, **cleaned)  # type: ignore[arg-type]
    session.add(field)
    session.flush()
    audit.record(session, actor, "custom_field.created", "customfield", field.id,
                 organization_id=org.id, after=_field_snapshot(field))
    return field


def update_field(session: Session, actor: Actor | None, field_id: int,
                 changes: Mapping[str, Any]) -> CustomField:
    """Change a definition; the key and the kind stay (stored values depend on them)."""
    field = get_field(session, field_id)
    org = get_organization(session, field.organization_id)
    if actor is not None:
        actor.require("org.manage", org)
    if {"key", "kind"} & set(changes):
        raise ValidationError("Tunnistetta ja tyyppiä ei voi muuttaa",
                              "The key and the kind cannot be changed")
    cleaned = _clean_definition(changes)
    if field.kind == "choice" and "choices" in cleaned:
        if not cleaned["choices"]:
            raise FormErrors({"choices": ValidationError(
                "Valintakentälle tarvitaan vaihtoehdot", "A choice field needs its choices",
                field="choices")})
        in_use = set(session.exec(select(CustomFieldValue.value).where(
            CustomFieldValue.field_id == field.id).distinct()))
        dropped = sorted(in_use - set(cleaned["choices"]))
        if dropped:
            raise FormErrors({"choices": ValidationError(
                f"Vaihtoehto on käytössä: {dropped[0]}", f"The choice is in use: {dropped[0]}",
                field="choices")})
    elif "choices" in cleaned:
        cleaned.pop("choices")
    before = _field_snapshot(field)
    for key, value in cleaned.items():
        setattr(field, key, value)
    old, new = audit.diff(before, _field_snapshot(field))
    if new:
        session.add(field)
        audit.record(session, actor, "custom_field.updated", "customfield", field.id,
                     organization_id=org.id, before=old, after=new)
    return field


def delete_field(session: Session, actor: Actor | None, field_id: int) -> None:
    """Remove a definition and every value of it (audited with the count of values)."""
    field = get_field(session, field_id)
    org = get_organization(session, field.organization_id)
    if actor is not None:
        actor.require("org.manage", org)
    removed = session.execute(sa.delete(CustomFieldValue).where(
        CustomFieldValue.field_id == field.id)).rowcount  # type: ignore[arg-type]
    audit.record(session, actor, "custom_field.deleted", "customfield", field.id,
                 organization_id=org.id, before={**_field_snapshot(field), "values": removed})
    session.delete(field)
    session.flush()


# ---------------------------------------------------------------- values

def values_for(session: Session, person_ids: Iterable[int],
               field_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """Stored values as {person_id: {field_id: text}} (people without values are absent).

    No permission check: the caller has already decided which people and
    fields the asker may see (the exporter reads what the register query gave).
    """
    pids = sorted(set(person_ids))
    fids = sorted(set(field_ids))
    out: dict[int, dict[int, str]] = {}
    if not pids or not fids:
        return out
    for start in range(0, len(pids), 5000):
        chunk = pids[start:start + 5000]
        rows = session.execute(
            sa.select(CustomFieldValue.person_id, CustomFieldValue.field_id,
                      CustomFieldValue.value)
            .where(col(CustomFieldValue.person_id).in_(chunk),
                   col(CustomFieldValue.field_id).in_(fids))).all()
        for person_id, field_id, value in rows:
            out.setdefault(person_id, {})[field_id] = value
    return out


def _writable_fields(session: Session, actor: Actor | None, person_id: int,
                     organization_id: int | None) -> dict[str, CustomField]:
    """The fields the actor may set for the person, by key."""
    paths = _person_org_paths(session, person_id)
    if organization_id is not None:
        candidates = list_fields(session, organization_id, include_ancestors=True)
        org = get_organization(session, organization_id)
        if not any(p.startswith(org.path) for p in paths):
            raise ValidationError("Henkilö ei ole tämän yhdistyksen jäsen",
                                  "The person is not a member of this organisation")
    else:
        candidates = fields_for_person(session, person_id)
    org_paths = dict(session.execute(sa.select(Organization.id, Organization.path).where(
        col(Organization.id).in_({f.organization_id for f in candidates}))).all())
    writable: dict[str, CustomField] = {}
    for field in candidates:
        field_path = org_paths[field.organization_id]
        member_paths = [p for p in paths if p.startswith(field_path)]
        if not member_paths:
            continue
        if actor is not None and not any(actor.can("register.write", p) for p in member_paths):
            continue
        if field.key in writable and organization_id is None:
            # The same key in two organisations: the caller must name the organisation.
            raise ValidationError(f"Kenttä {field.key} on monessa yhdistyksessä; valitse yhdistys",
                                  f"Field {field.key} exists in several organisations",
                                  field=field.key)
        writable[field.key] = field
    return writable


def set_values(session: Session, actor: Actor | None, person_id: int,
               values: Mapping[str, Any], *, organization_id: int | None = None) -> dict[str, Any]:
    """Set a person's custom field values by field key; every bad value is reported at once.

    `organization_id` names the organisation whose fields (with its
    ancestors') the keys refer to; without it the keys are looked up among
    all fields that apply to the person. The actor needs `register.write` on
    a membership of the person inside the field's organisation. Returns the
    changes as {key: new stored text or None}; audited as `person.custom_fields`.
    """
    from membook_app.register.people import get_person_for

    if actor is not None:
        get_person_for(session, actor, person_id, "register.write")
    fields = _writable_fields(session, actor, person_id, organization_id)
    cleaned: dict[int, tuple[CustomField, str | None]] = {}
    errors: dict[str, DomainError] = {}
    for key, raw in values.items():
        field = fields.get(key)
        if field is None:
            errors[key] = ValidationError(f"Tuntematon kenttä {key}", f"Unknown field {key}",
                                          field=key)
            continue
        try:
            cleaned[field.id] = (field, clean_value(field, raw))  # type: ignore[index]
        except ValidationError as exc:
            errors[key] = exc
    if errors:
        raise FormErrors(errors)
    current = {row.field_id: row for row in session.exec(select(CustomFieldValue).where(
        CustomFieldValue.person_id == person_id,
        col(CustomFieldValue.field_id).in_(list(cleaned))))}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field_id, (field, text) in cleaned.items():
        row = current.get(field_id)
        old = row.value if row else None
        if old == text:
            continue
        before[field.key], after[field.key] = old, text
        if text is None:
            session.delete(row)
        elif row is None:
            session.add(CustomFieldValue(field_id=field_id, person_id=person_id, value=text))
        else:
            row.value = text
            session.add(row)
    if after:
        session.flush()
        audit.record(session, actor, "person.custom_fields", "person", person_id,
                     organization_id=organization_id, before=before, after=after)
    return after


def bulk_set_values(session: Session, actor: Actor | None, organization_id: int,
                    rows: Mapping[int, Mapping[str, Any]]) -> int:
    """Set values for many people of one organisation (the importer's path).

    Validates everything first (FormErrors keyed "<person_id>.<key>"), then
    writes set-based: one DELETE of the touched (person, field) pairs and
    one bulk INSERT. One audit event per organisation call. Returns the
    number of values written or removed.
    """
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("register.write", org)
    fields = {f.key: f for f in list_fields(session, organization_id, include_ancestors=True)}
    errors: dict[str, DomainError] = {}
    pairs: list[tuple[int, int, str | None]] = []
    for person_id, values in rows.items():
        for key, raw in values.items():
            field = fields.get(key)
            if field is None:
                errors[f"{person_id}.{key}"] = ValidationError(
                    f"Tuntematon kenttä {key}", f"Unknown field {key}", field=key)
                continue
            try:
                pairs.append((person_id, field.id, clean_value(field, raw)))  # type: ignore[arg-type]
            except ValidationError as exc:
                errors[f"{person_id}.{key}"] = exc
    if errors:
        raise FormErrors(errors)
    if not pairs:
        return 0
    people = sorted({p for p, _, _ in pairs})
    members = set()
    for start in range(0, len(people), 5000):
        members.update(session.exec(
            select(Membership.person_id).join(
                Organization, Organization.id == Membership.organization_id)
            .where(col(Membership.person_id).in_(people[start:start + 5000]),
                   col(Organization.path).startswith(org.path))))
    outside = [p for p in people if p not in members]
    if outside:
        raise ValidationError(f"Henkilö {outside[0]} ei ole tämän yhdistyksen jäsen",
                              f"Person {outside[0]} is not a member of this organisation")
    field_ids = sorted({f for _, f, _ in pairs})
    for start in range(0, len(people), 5000):
        session.execute(sa.delete(CustomFieldValue).where(
            col(CustomFieldValue.person_id).in_(people[start:start + 5000]),
            col(CustomFieldValue.field_id).in_(field_ids)))
    inserts = [{"person_id": p, "field_id": f, "value": t} for p, f, t in pairs if t is not None]
    for start in range(0, len(inserts), 5000):
        session.execute(sa.insert(CustomFieldValue), inserts[start:start + 5000])
    audit.record(session, actor, "custom_fields.bulk_set", "organization", org.id,
                 organization_id=org.id, after={"people": len(people), "values": len(pairs)})
    return len(pairs)


@dataclass(frozen=True)
class FieldValue:
    field_id: int
    key: str
    label: str
    kind: str
    value: str | None
    organization_id: int


def person_values(session: Session, person_id: int, *,
                  visible: Any = None, member_only: bool = False) -> list[FieldValue]:
    """The person's fields with their values (None when unset).

    `visible(org_path) -> bool` limits to fields of organisations the
    caller may read; `member_only` to fields shown to members.
    """
    fields = fields_for_person(session, person_id)
    if member_only:
        fields = [f for f in fields if f.visible_to_member]
    if visible is not None:
        paths = dict(session.execute(sa.select(Organization.id, Organization.path).where(
            col(Organization.id).in_({f.organization_id for f in fields}))).all())
        person_paths = _person_org_paths(session, person_id)
        fields = [f for f in fields
                  if any(p.startswith(paths[f.organization_id]) and visible(p)
                         for p in person_paths)]
    values = values_for(session, [person_id], [f.id for f in fields]).get(  # type: ignore[misc]
        person_id, {})
    return [FieldValue(f.id, f.key, f.label, f.kind, values.get(f.id),  # type: ignore[arg-type]
                       f.organization_id) for f in fields]


# ---------------------------------------------------------------- register filter

def filter_condition(session: Session, field_id: int, raw: str,
                     org: Organization) -> sa.ColumnElement[bool]:
    """A condition on Person.id: people whose value of the field matches `raw`.

    Text fields match case-insensitively as a substring; other kinds match
    the canonical value exactly. "-" (or "(tyhjä)") finds people without a
    value. The field must belong to the organisation, an ancestor or a
    descendant of it.
    """
    from models import Person

    field = get_field(session, field_id)
    field_org = get_organization(session, field.organization_id)
    if not (org.path.startswith(field_org.path) or field_org.path.startswith(org.path)):
        raise ValidationError("Kenttä ei kuulu tähän yhdistykseen",
                              "The field is not this organisation's", field="custom_field")
    raw = (raw or "").strip()
    if raw in ("-", "(tyhjä)", "(empty)"):
        return ~sa.exists().where(CustomFieldValue.field_id == field.id,
                                  CustomFieldValue.person_id == Person.id)
    if not raw:
        return sa.exists().where(CustomFieldValue.field_id == field.id,
                                 CustomFieldValue.person_id == Person.id)
    if field.kind == "text":
        pattern = f"%{raw.lower().replace('%', '').replace('_', '')}%"
        match = sa.func.lower(CustomFieldValue.value).like(pattern)
    else:
        probe = CustomField(key=field.key, label=field.label, kind=field.kind,
                            choices=field.choices, required=False, organization_id=0)
        match = CustomFieldValue.value == clean_value(probe, raw)
    return sa.exists().where(CustomFieldValue.field_id == field.id,
                             CustomFieldValue.person_id == Person.id, match)
