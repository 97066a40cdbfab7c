"""Engine and session factory: SQLite by default, PostgreSQL through psycopg 3.

All three doors (Reflex handlers, Huey tasks, the CLI) get their sessions here,
so SQLite always runs with WAL and foreign keys on, whoever opens it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from membook_app.settings import get_settings


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or none)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL (tests use several databases in one process)."""
    return _engine_for(normalise_url(url or get_settings().database_url))


@lru_cache(maxsize=32)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        db_path = make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        event.listen(engine, "connect", _postgresql_settings)
    return engine


def _postgresql_settings(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """Plan for SSD storage (the default 4.0 assumes spinning disks): with it the planner
    prefers the register's trigram index scans over walking the name index."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET random_page_cost = 1.1")
    cursor.close()
    dbapi_connection.commit()


def is_sqlite(engine: Engine) -> bool:
    """Some bulk paths differ (COPY on PostgreSQL); callers ask this instead of parsing URLs."""
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error: one unit of work."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def id_sequence(connection: Connection, table: str) -> str:
    """PostgreSQL: the id sequence of `table` as an SQL literal (`'public.x_id_seq'::regclass`).

    For statements that draw many ids: `nextval(pg_get_serial_sequence(...))` looks the
    sequence up again for every row (about 2.5 µs each, a quarter of a second per
    100,000 ids), while a regclass literal is resolved once when the statement is parsed.
    """
    name = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"),
                              {"t": table}).scalar_one()
    return "'" + str(name).replace("'", "''") + "'::regclass"


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """Alembic filter: leave the dialect-specific search indexes alone.

    The `register search indexes` migration adds an FTS5 table (with shadow
    tables) on SQLite and trigram indexes on PostgreSQL; they are not in the
    SQLModel metadata on purpose, so autogenerate must not try to drop them.
    """
    if type_ == "table" and name and name.startswith("person_search"):
        return False
    return not (type_ == "index" and name and name.endswith("_trgm"))
