"""`membook import members` and `membook export members` as real subprocesses.

The commands are added to the `membook` group here the way the CLI package
wires them, and run through its `main` (one-line errors, exit statuses).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import func, select

from membook_app.db import session_scope
from models import AuditEvent, Person
from tests.data.member_files import FI_HEADERS, csv_bytes, good_rows, xlsx_bytes
from tests.factories import make_tree

RUN = ("import sys\n"
       "from membook_app.cli import cli, main\n"
       "from membook_app.cli.register_io import COMMANDS\n"
       "for command in COMMANDS:\n"
       "    cli.add_command(command)\n"
       "main(sys.argv[1:])\n")
REPO = Path(__file__).resolve().parents[2]


def membook(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *args], cwd=REPO, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={**os.environ, "DATABASE_URL": url})


def _people(url: str) -> int:
    with session_scope(url) as s:
        return s.exec(select(func.count()).select_from(Person)).one()


def test_import_dry_run_then_import_then_export(db_url: str, tmp_path: Path) -> None:
    make_tree(db_url)
    good = tmp_path / "jäsenet.xlsx"
    good.write_bytes(xlsx_bytes(FI_HEADERS, good_rows()))

    dry = membook(db_url, "import", "members", str(good), "--org", "Seura A ry", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Sähköposti -> email" in dry.stdout
    assert "uusia / new: 3" in dry.stdout and "Koeajo" in dry.stdout
    assert _people(db_url) == 0

    done = membook(db_url, "import", "members", str(good), "--org", "Seura A ry")
    assert done.returncode == 0, done.stderr
    assert "Tuonti tehty" in done.stdout and "uusia / new: 3" in done.stdout
    assert _people(db_url) == 3
    with session_scope(db_url) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "register.imported")).one()
        assert event.actor_label == "system" and event.after["file"] == "jäsenet.xlsx"

    out = tmp_path / "rekisteri.xlsx"
    exported = membook(db_url, "export", "members", "--org", "Seura A ry", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "3 riviä" in exported.stdout
    sheet = load_workbook(out).active
    assert sheet.max_row == 4 and sheet["B1"].value == "Sukunimi"

    as_csv = tmp_path / "rekisteri.csv"
    exported = membook(db_url, "export", "members", "--org", "Seura A ry", "--out", str(as_csv),
                       "--csv", "--columns", "last_name,email")
    assert exported.returncode == 0, exported.stderr
    lines = as_csv.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == "Sukunimi;Sähköposti"
    assert sorted(lines[1:]) == sorted(["Åberg;bertil@example.fi", "Ääritalo;aino@example.fi",
                                        "Öhman;"])


def test_import_with_bad_rows_prints_the_report_and_refuses(db_url: str, tmp_path: Path) -> None:
    make_tree(db_url)
    bad = tmp_path / "bad.csv"
    rows = [*good_rows()]
    rows[1] = [*rows[1]]
    rows[1][2] = "bertil(at)example.fi"
    bad.write_bytes(csv_bytes(FI_HEADERS, rows, encoding="cp1252"))
    result = membook(db_url, "import", "members", str(bad), "--org", "Seura A ry")
    assert result.returncode == 1
    assert "rivi / row 3: Sähköposti = 'bertil(at)example.fi': Sähköpostiosoite ei kelpaa" \
        in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("membook: 1 virheellistä riviä")
    assert _people(db_url) == 0

    missing = membook(db_url, "import", "members", str(tmp_path / "nope.csv"), "--org", "1")
    assert missing.returncode == 1 and "Tiedostoa ei voi avata" in missing.stderr
    unknown = membook(db_url, "import", "members", str(bad), "--org", "Ei ole ry")
    assert unknown.returncode == 1 and "ei löydy" in unknown.stderr
    assert "Traceback" not in missing.stderr + unknown.stderr
