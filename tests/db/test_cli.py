"""The real `membook` console script, run as a subprocess against a fresh database.

Every failure must be one line on stderr, no traceback, nothing on stdout and
a non-zero status (2 usage, 1 refused input, 3 database unreachable).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlmodel import func, select

from membook_app.accounts.permissions import Actor
from membook_app.db import session_scope
from membook_app.settlements.reconciliation import reconcile
from models import AuditEvent, Membership, Organization, Person, RoleGrant, User

MEMBOOK = str(Path(sys.executable).parent / "membook")
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/x"


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url}


def membook(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MEMBOOK, *args], env=_env(url), cwd=cwd, text=True,
                          capture_output=True, timeout=120, check=False)


def membook_at_once(url: str | None, *commands: list[str],
                    cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands side by side (each start-up costs seconds of imports).

    With `url` None each command starts with its own DATABASE_URL.
    """
    def run(args: list[str]) -> subprocess.CompletedProcess[str]:
        return membook(url, *args, cwd=cwd) if url else membook(args[0], *args[1:], cwd=cwd)

    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(run, commands))


def assert_one_line_failure(result: subprocess.CompletedProcess[str], status: int | None = None,
                            *, mentions: str = "") -> None:
    """Exit non-zero with exactly one line on stderr, no traceback and no stdout."""
    shown = f"status {result.returncode}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.returncode != 0, shown
    if status is not None:
        assert result.returncode == status, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("membook: "), shown
    assert "Traceback" not in result.stderr and result.stdout == "", shown
    assert mentions in lines[0], shown


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {name: s.exec(select(func.count()).select_from(model)).one()
                for name, model in (("organizations", Organization), ("people", Person),
                                    ("memberships", Membership), ("users", User),
                                    ("grants", RoleGrant))}


def test_upgrade_seed_and_user_add(db_url: str, tmp_path: Path) -> None:
    upgraded = membook(db_url, "db", "upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database at head" in upgraded.stdout

    seeded = membook(db_url, "seed-demo", cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    counts = _counts(db_url)
    assert counts["organizations"] == 7
    assert counts["people"] >= 2000 and counts["memberships"] >= counts["people"]
    assert f"people: {counts['people']}" in seeded.stdout
    with session_scope(db_url) as s:
        tops = s.exec(select(Organization).where(Organization.parent_id.is_(None))).all()  # type: ignore[union-attr]
        assert [o.name for o in tops] == ["Suomen Liikuntaliitto ry"]
        operator = s.exec(select(User).where(User.email == "operaattori@membook.example")).one()
        assert operator.is_operator and operator.password_hash
        # The demo's money went through the real import and settlement, and the escrow
        # account reconciles with its last bank statement to the cent.
        recon = reconcile(s, Actor(operator.id, operator.email, "", is_operator=True))  # type: ignore[arg-type]
        assert recon.statement is not None and recon.settled.cents > 0
        assert recon.unexplained_cents == 0
        assert {a.key for a in recon.explained} >= {"unmatched", "payouts_pending"}

    # Read-only or refused commands, run together: none may change anything.
    again, if_empty, unknown_org = membook_at_once(
        db_url, ["seed-demo"], ["seed-demo", "--if-empty"],
        ["user", "add", "other@example.fi", "--org", "Ei Ole ry", "--role", "viewer"],
        cwd=tmp_path)
    assert_one_line_failure(again, 1, mentions="already has data")
    assert if_empty.returncode == 0, if_empty.stderr
    assert_one_line_failure(unknown_org, 1, mentions="Ei Ole ry")
    assert _counts(db_url) == counts
    with session_scope(db_url) as s:
        # The refused command left nothing behind, not even the user it began with.
        assert s.exec(select(User).where(User.email == "other@example.fi")).first() is None

    added = membook(db_url, "user", "add", "New@Example.fi", "--org", "Oulun Liikkujat ry",
                    "--role", "treasurer", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "new@example.fi: treasurer @ Oulun Liikkujat ry"
    with session_scope(db_url) as s:
        user = s.exec(select(User).where(User.email == "new@example.fi")).one()
        grants = s.exec(select(Organization.name, RoleGrant.role)
                        .join(Organization, Organization.id == RoleGrant.organization_id)
                        .where(RoleGrant.user_id == user.id)).all()
        assert [tuple(g) for g in grants] == [("Oulun Liikkujat ry", "treasurer")]
        assert not user.is_operator and user.password_hash is None
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "grant.created")).all()
        assert {"user": "new@example.fi", "role": "treasurer"} in [e.after for e in events]

    assert _counts(db_url)["grants"] == counts["grants"] + 1


WRONG_USE = [
    (["user", "add", "x@example.fi", "--org", "Oulun Liikkujat ry", "--role", "king"], 2, "king"),
    (["user", "add", "x@example.fi", "--role", "admin"], 2, "--org"),
    (["user", "add", "not-an-email", "--org", "1", "--role", "admin"], 1, "email"),
    (["frobnicate"], 2, "frobnicate"),
]


def test_wrong_use_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    before = _counts(sqlite_url)
    results = membook_at_once(sqlite_url, *(args for args, _, _ in WRONG_USE), cwd=tmp_path)
    for result, (args, status, mentions) in zip(results, WRONG_USE, strict=True):
        assert result.args[1:] == args
        assert_one_line_failure(result, status, mentions=mentions)
    assert _counts(sqlite_url) == before


def test_broken_database_settings_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    unreachable, garbled, blocked = membook_at_once(
        None,
        [UNREACHABLE, "db", "upgrade"],
        ["not a database url", "db", "upgrade"],
        [f"sqlite:///{blocker / 'membook.db'}", "db", "upgrade"],
        cwd=tmp_path)
    assert_one_line_failure(unreachable, 3, mentions="database unreachable")
    assert_one_line_failure(garbled, 3, mentions="invalid DATABASE_URL")
    assert_one_line_failure(blocked, 1, mentions="not-a-folder")
