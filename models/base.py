"""Shared column helpers for the tables."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware UTC now.

    SQLModel stores datetimes as UTC (timestamptz on PostgreSQL) and refuses
    naive values, so every timestamp in the product comes from here and is
    converted to Europe/Helsinki only for display.
    """
    return datetime.now(UTC)
