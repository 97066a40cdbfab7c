"""Domain errors carry a message a person can act on, in Finnish and English.

Services raise these; the UI shows the text in the user's language next to
the field named, the CLI prints it on one line, and nothing else has to
translate exceptions.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal or a validation failure with a user-presentable reason."""

    def __init__(self, fi: str, en: str | None = None, *, field: str | None = None) -> None:
        self.fi = fi
        self.en = en or fi
        self.field = field
        super().__init__(f"{self.fi} ({self.en})" if self.en != self.fi else self.fi)

    def text(self, lang: str) -> str:
        """The message in the user's language (fi unless they chose en)."""
        return self.en if lang == "en" else self.fi


class ValidationError(DomainError):
    """Input that cannot be accepted; `field` names where it is wrong."""


class PermissionDenied(DomainError):
    """The asker may not read or change this object."""

    def __init__(self, fi: str = "Ei oikeutta", en: str = "Not allowed", **kw: object) -> None:
        super().__init__(fi, en, **kw)  # type: ignore[arg-type]


class NotFound(DomainError):
    """The object does not exist (or is not visible to the asker, which looks the same)."""


class LimitReached(DomainError):
    """A plan limit stops the change."""


class FormErrors(ValidationError):
    """Several field errors at once, so a form can show every message next to its field."""

    def __init__(self, errors: dict[str, DomainError]) -> None:
        self.errors = errors
        first = next(iter(errors.values()))
        super().__init__(first.fi, first.en, field=first.field)
