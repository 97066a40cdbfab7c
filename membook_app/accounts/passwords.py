"""Password hashing with argon2id (argon2-cffi's tuned defaults)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from membook_app.errors import ValidationError

_hasher = PasswordHasher()
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    """Hash a new password after checking it is long enough to be worth having."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(
            f"Salasanassa on oltava vähintään {MIN_LENGTH} merkkiä",
            f"The password must have at least {MIN_LENGTH} characters",
            field="password",
        )
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-time check; a missing hash (link-only account) never matches."""
    if not password_hash:
        # Spend the same time as a real check so timing does not reveal the account kind.
        _hasher.hash("timing-equaliser")
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the parameters have been raised since the hash was made."""
    return _hasher.check_needs_rehash(password_hash)
