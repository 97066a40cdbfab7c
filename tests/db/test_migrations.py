"""The Alembic migrations build exactly the schema the models describe.

Checked on an empty SQLite file and an empty PostgreSQL database (upgraded
here from nothing, not cloned from the template), on the template clones the
other tests use, and with the real `alembic check` command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table in the metadata)
from membook_app.cli.admin import upgrade_database
from membook_app.db import get_engine, include_object

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTED_TABLES = {"user", "rolegrant", "authsession", "usedtoken", "loginattempt", "auditevent",
                   "outboxmessage", "organization", "plan", "person", "membershiptype",
                   "membership"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it at all (no alembic_version, no tables)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        yield url
        get_engine(url).dispose()
        return
    name = f"membook_empty_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    yield url
    get_engine(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _differences(url: str) -> list[object]:
    with get_engine(url).connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object})
        return list(compare_metadata(context, SQLModel.metadata))


def _alembic_check(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    alembic = Path(sys.executable).parent / "alembic"
    return subprocess.run([str(alembic), "check"], cwd=REPO_ROOT, env=env, text=True,
                          capture_output=True, timeout=120, check=False)


def test_empty_database_upgrades_to_the_models(empty_url: str) -> None:
    assert not set(inspect(get_engine(empty_url)).get_table_names()) & EXPECTED_TABLES
    upgrade_database(empty_url)
    tables = set(inspect(get_engine(empty_url)).get_table_names())
    assert tables >= EXPECTED_TABLES | {"alembic_version"}
    assert _differences(empty_url) == []
    upgrade_database(empty_url)  # a second run (every `make run`) changes nothing
    assert _differences(empty_url) == []
    result = _alembic_check(empty_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No new upgrade operations detected" in result.stdout + result.stderr


def test_template_clone_matches_the_models(db_url: str) -> None:
    """The databases every other test starts from are the migrated schema too."""
    assert _differences(db_url) == []


def test_compare_detects_a_drifted_schema(empty_url: str) -> None:
    """Neither check is vacuous: a column the models lack is reported, and `alembic check`
    fails, which also proves it looked at the database DATABASE_URL names."""
    upgrade_database(empty_url)
    with get_engine(empty_url).begin() as connection:
        connection.exec_driver_sql("ALTER TABLE person ADD COLUMN nickname VARCHAR(20)")
    diffs = _differences(empty_url)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("remove_column", "person", "nickname")]
    result = _alembic_check(empty_url)
    assert result.returncode != 0
