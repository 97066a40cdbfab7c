"""Signed tokens (JWT, HS256) for links that leave the product by email.

joserfc is the JOSE implementation that authlib itself now delegates to
(authlib.jose is deprecated in favour of it), so it is the authlib family's
JWT with no deprecated module in between.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from membook_app.errors import ValidationError
from membook_app.settings import get_settings


def _key() -> OctKey:
    return OctKey.import_key(get_settings().resolved_secret_key())


def issue(purpose: str, subject: str, ttl_seconds: int | None, **extra: Any) -> str:
    """A token for one purpose; `jti` lets single-use tokens be burnt after use."""
    now = int(time.time())
    claims: dict[str, Any] = {"pur": purpose, "sub": subject, "iat": now,
                              "jti": secrets.token_urlsafe(16), **extra}
    if ttl_seconds is not None:
        claims["exp"] = now + ttl_seconds
    return jwt.encode({"alg": "HS256"}, claims, _key())


def read(token: str, purpose: str) -> dict[str, Any]:
    """Verify signature, expiry and purpose; every failure is one clear refusal."""
    invalid = ValidationError("Linkki on virheellinen tai vanhentunut",
                              "The link is invalid or has expired", field="token")
    try:
        decoded = jwt.decode(token, _key(), algorithms=["HS256"])
        jwt.JWTClaimsRegistry(jti={"essential": True}).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise invalid from exc
    if decoded.claims.get("pur") != purpose:
        raise invalid
    return dict(decoded.claims)
