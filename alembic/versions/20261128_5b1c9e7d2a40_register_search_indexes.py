"""register search indexes

Name and email search in the register ("contains", case-insensitive) cannot
use a B-tree. PostgreSQL gets pg_trgm GIN indexes on the lowered columns;
SQLite gets an FTS5 trigram table kept in step with `person` by triggers.
Both are outside the SQLModel metadata; alembic/env.py tells autogenerate to
leave them alone.

Revision ID: 5b1c9e7d2a40
Revises: 34e77a1d0719
Create Date: 2026-11-28 09:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "5b1c9e7d2a40"
down_revision: str | None = "34e77a1d0719"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_COLUMNS = ("last_name", "first_name", "email")
SQLITE_TRIGGERS = {
    "person_search_ai": "AFTER INSERT ON person BEGIN "
    "INSERT INTO person_search(rowid, last_name, first_name, email) "
    "VALUES (new.id, new.last_name, new.first_name, new.email); END",
    "person_search_ad": "AFTER DELETE ON person BEGIN "
    "INSERT INTO person_search(person_search, rowid, last_name, first_name, email) "
    "VALUES ('delete', old.id, old.last_name, old.first_name, old.email); END",
    "person_search_au": "AFTER UPDATE OF last_name, first_name, email ON person BEGIN "
    "INSERT INTO person_search(person_search, rowid, last_name, first_name, email) "
    "VALUES ('delete', old.id, old.last_name, old.first_name, old.email); "
    "INSERT INTO person_search(rowid, last_name, first_name, email) "
    "VALUES (new.id, new.last_name, new.first_name, new.email); END",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in PG_COLUMNS:
            op.execute(f"CREATE INDEX ix_person_{column}_trgm ON person "
                       f"USING gin (lower({column}) gin_trgm_ops)")
    elif dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE person_search USING fts5("
                   "last_name, first_name, email, content='person', content_rowid='id', "
                   "tokenize='trigram')")
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute("INSERT INTO person_search(person_search) VALUES ('rebuild')")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for column in PG_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_person_{column}_trgm")
    elif dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS person_search")
