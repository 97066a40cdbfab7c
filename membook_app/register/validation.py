"""Field validation for register data, with messages that name the field.

Well-kept libraries do the checking (python-stdnum for Finnish identifiers,
schwifty for IBANs, phonenumbers for phones); this module only turns their
verdicts into Finnish/English messages and canonical stored forms.
"""

from __future__ import annotations

import re
from datetime import date

import phonenumbers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fi import associationid, ytunnus

from membook_app.errors import ValidationError

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
_FI_POSTAL = re.compile(r"^\d{5}$")


def clean_email(value: str | None, field: str = "email") -> str | None:
    """Lower-cased address or None; a visibly broken address is refused."""
    value = (value or "").strip().lower()
    if not value:
        return None
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValidationError("Sähköpostiosoite ei kelpaa", "Invalid email address", field=field)
    return value


def clean_phone(value: str | None, country: str = "FI", field: str = "phone") -> str | None:
    """Phone in E.164 (+358401234567); Finnish local forms like 040 123 4567 are accepted."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, country or "FI")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError("Puhelinnumero ei kelpaa", "Invalid phone number", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_postal_code(value: str | None, country: str = "FI",
                      field: str = "postal_code") -> str | None:
    """Finnish postal codes are five digits; other countries are kept as given (trimmed)."""
    value = (value or "").strip()
    if not value:
        return None
    if (country or "FI") == "FI" and not _FI_POSTAL.match(value):
        raise ValidationError("Postinumerossa on oltava viisi numeroa",
                              "A Finnish postal code has five digits", field=field)
    if len(value) > 10:
        raise ValidationError("Postinumero on liian pitkä", "Postal code is too long", field=field)
    return value


def clean_name(value: str | None, field: str) -> str:
    """Names are required, trimmed and at most 100 characters."""
    value = " ".join((value or "").split())
    if not value:
        raise ValidationError("Pakollinen tieto", "Required", field=field)
    if len(value) > 100:
        raise ValidationError("Liian pitkä (enintään 100 merkkiä)", "Too long (max 100)",
                              field=field)
    return value


def clean_text(value: str | None, field: str, max_length: int) -> str | None:
    """Optional free text, trimmed, with a length limit."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > max_length:
        raise ValidationError(f"Liian pitkä (enintään {max_length} merkkiä)",
                              f"Too long (max {max_length})", field=field)
    return value


def clean_country(value: str | None, field: str = "country") -> str:
    """ISO 3166 alpha-2 country code, default FI."""
    value = (value or "FI").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValidationError("Maakoodi on kaksi kirjainta (esim. FI)",
                              "Country is a two-letter code (e.g. FI)", field=field)
    return value


def clean_birth_date(value: date | None, field: str = "birth_date") -> date | None:
    """Birth dates must be in the past and after 1900."""
    if value is None:
        return None
    if value > date.today() or value.year < 1900:
        raise ValidationError("Syntymäaika ei kelpaa", "Invalid birth date", field=field)
    return value


def clean_language(value: str | None, field: str = "language") -> str:
    """Preferred language: fi, sv or en."""
    value = (value or "fi").strip().lower()
    if value not in ("fi", "sv", "en"):
        raise ValidationError("Kieli on fi, sv tai en", "Language is fi, sv or en", field=field)
    return value


def clean_business_id(value: str | None, field: str = "business_id") -> str | None:
    """Y-tunnus in its printed form 1234567-8 (python-stdnum checks the check digit)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return ytunnus.validate(value)
    except StdnumError:
        raise ValidationError("Y-tunnus ei kelpaa", "Invalid business id", field=field) from None


def clean_association_id(value: str | None, field: str = "association_id") -> str | None:
    """Association register number (yhdistysrekisterinumero), stored compact."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return associationid.validate(value)
    except StdnumError:
        raise ValidationError("Yhdistysrekisterinumero ei kelpaa",
                              "Invalid association register number", field=field) from None


def clean_iban(value: str | None, field: str = "iban") -> str | None:
    """IBAN in compact form, validated by schwifty (country format and check digits)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return IBAN(value).compact
    except SchwiftyException:
        raise ValidationError("IBAN ei kelpaa", "Invalid IBAN", field=field) from None


def parse_date(value: str | date | None, field: str) -> date | None:
    """Dates in Finnish d.m.yyyy or ISO yyyy-mm-dd form."""
    if value is None or isinstance(value, date):
        return value
    value = value.strip()
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", value):
            d, m, y = (int(p) for p in value.split("."))
            return date(y, m, d)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValidationError("Päivämäärä muodossa p.k.vvvv", "Date as d.m.yyyy", field=field)
