"""Shared fixtures: fresh databases on SQLite and on a real PostgreSQL.

Each test that takes `db_url` runs twice, once per database. Both start from
a database migrated by Alembic (not create_all), cloned from a per-session
template so every test gets an empty, fully migrated database quickly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

_VAR = Path(tempfile.mkdtemp(prefix="membook-test-var-"))
os.environ["VAR_DIR"] = str(_VAR)
os.environ["SECRET_KEY"] = "test-secret-key-that-is-long-enough-for-hs256-0123456789"
os.environ["BASE_URL"] = "http://127.0.0.1:3999"
os.environ.pop("SMTP_HOST", None)
os.environ.pop("REDIS_URL", None)
os.environ["DATABASE_URL"] = f"sqlite:///{_VAR / 'unused.db'}"

from membook_app.cli.admin import upgrade_database  # noqa: E402
from membook_app.db import get_engine  # noqa: E402
from membook_app.settings import get_settings  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest and hold a Playwright event loop."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(sql)


def drop_pg_database(name: str) -> None:
    """Drop a test database, disconnecting whoever still holds it."""
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    get_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"membook_tpl_{uuid.uuid4().hex[:8]}"
    _pg_admin(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    upgrade_database(url)
    get_engine(url).dispose()
    yield name
    drop_pg_database(name)


def fresh_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, migrated, empty database of the given kind; dropped afterwards."""
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "membook.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        get_engine(f"sqlite:///{path}").dispose()
        return
    template = request.getfixturevalue("pg_template")
    name = f"membook_t_{uuid.uuid4().hex[:10]}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    yield url
    get_engine(url).dispose()
    drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database, which is also what DATABASE_URL names for the duration of the test."""
    gen = fresh_database(request.param, tmp_path, request)
    url = next(gen)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    for _ in gen:
        pass


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """SQLite only, for tests whose subject does not depend on the database."""
    gen = fresh_database("sqlite", tmp_path, request)
    url = next(gen)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    for _ in gen:
        pass
