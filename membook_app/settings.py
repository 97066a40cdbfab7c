"""One settings object, read from the environment and `.env`.

Every tunable of the product lives here so that the README's settings table
and the code cannot drift apart: the table is generated from this class
(`membook settings`), never written by hand.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; defaults are the embedded, one-command set-up."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    var_dir: Path = Field(
        default=REPO_ROOT / "var",
        description="Folder for the SQLite database, Huey's queue, the secret key and exports.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty: SQLite file var/membook.db. "
        "PostgreSQL: postgresql://user@host/db (psycopg 3 is used).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for the Huey task queue. Unset: Huey on SQLite in var/."
    )
    huey_name: str = Field(
        default="membook",
        description="Name of the task queue (Redis keys huey.*.<name>); give each installation "
        "or test run sharing one Redis its own name.",
    )
    secret_key: str = Field(
        default="",
        description="Key for signed tokens (sign-in links, invoice links). Empty: generated "
        "once into var/secret_key.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:3000",
        description="Public address of the product; used in links sent by email.",
    )
    port: int = Field(default=3000, description="Port that `make run` serves the product on.")
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server. Unset: mail stays in the outbox (readable in the UI)."
    )
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_user: str | None = Field(
        default=None, description="SMTP user name, if the server needs one.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Use STARTTLS on the SMTP connection.")
    smtp_ssl: bool = Field(default=False, description="Use implicit TLS (SMTPS) on the connection.")
    mail_from: str = Field(
        default="Membook <noreply@membook.invalid>", description="Sender address of all mail."
    )
    session_hours: int = Field(
        default=12, description="How long a sign-in session lasts, in hours.")
    signin_link_minutes: int = Field(
        default=15, description="How long a one-time sign-in link is valid, in minutes."
    )
    paytrail_base_url: str = Field(
        default="http://127.0.0.1:8765",
        description="Paytrail API address. Default: the local sandbox that `make run` starts.",
    )
    paytrail_account: str = Field(default="375917", description="Paytrail merchant id.")
    paytrail_secret: str = Field(default="SAIPPUAKAUPPIAS", description="Paytrail secret key.")
    escrow_name: str = Field(
        default="Membook asiakasvaratili", description="Name of the client escrow account holder."
    )
    escrow_iban: str = Field(
        default="FI2112345600000785",
        description="IBAN of the client escrow account members pay to."
    )
    escrow_bic: str = Field(default="NDEAFIHH", description="BIC of the escrow account.")
    settlement_pain001_version: Literal["pain.001.001.03", "pain.001.001.09"] = Field(
        default="pain.001.001.03",
        description="SEPA payout file version of weekly settlements (ask your bank).",
    )
    bank_inbox_dir: Path | None = Field(
        default=None,
        description="Folder the daily bank import takes files from (it keeps processed/ and "
        "failed/ inside it). Unset: VAR_DIR/bank-inbox.",
    )

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        self.var_dir = Path(self.var_dir).resolve()
        self.bank_inbox_dir = Path(self.bank_inbox_dir or self.var_dir / "bank-inbox").resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'membook.db'}"
        return self

    def resolved_secret_key(self) -> str:
        """The signing key; generated into var/ on first use so it is never committed."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; cached so every door (UI, task, CLI) sees the same values."""
    return Settings()
