"""Benchmark of the register export: 100,000 members × 20 columns to .xlsx.

The issue's goal: the real export (`membook_app.register.exporter.export_members`,
reading the rows from the database and writing them streaming) takes at most
1.15× the time of the fastest *bare writer* of the same rows measured in the
same run, and its peak RSS stays under 250 MB.

The run seeds a fresh database (SQLite by default; `--db postgresql` uses the
local server) with one organisation of N members whose 16 register columns and
4 custom fields are made by `row(i)`. Then each of these runs in its own
subprocess, so each peak RSS is its own (`ru_maxrss`):

* `export`             — the product's export from the database (timed: the whole call);
* `xlsxwriter`         — bare xlsxwriter, constant_memory, typed cell writes;
* `xlsxwriter_fast`    — the same through the undecorated `_write_*` methods the
                         exporter calls (so the exporter gains nothing the bare lacks);
* `xlsxwriter_row`     — bare xlsxwriter, constant_memory, `write_row` per row;
* `openpyxl`           — bare openpyxl write-only mode, `append` per row.

The bare writers get the same rows already built in memory (building them is
not timed), the same header, date format, frozen header and auto-filter, and
write them to a file. Their RSS therefore includes the rows held in memory.

    .venv/bin/python bench/export.py [--members 100000] [--db sqlite|postgresql]
                                     [--repeat 1]

Progress goes to stderr; stdout is a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_RATIO = 1.15
GOAL_RSS_MB = 250.0
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FIRST = ("Aino", "Eino", "Helmi", "Väinö", "Sofia", "Onni", "Ella", "Leevi", "Aada", "Elias")
LAST = ("Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Hämäläinen", "Laine", "Heikkinen",
        "Koskinen", "Järvinen", "Lehtonen", "Öhman", "Åberg")
CITIES = ("Helsinki", "Espoo", "Tampere", "Vantaa", "Oulu", "Turku", "Jyväskylä", "Lahti")
STATUS = {"active": "aktiivinen", "resigned": "eronnut"}
BELTS = ("keltainen", "oranssi", "vihreä", "sininen", "ruskea", "musta")
CUSTOM = (("lehti", "Jäsenlehti", "bool", None), ("vyo", "Vyöarvo", "choice", list(BELTS)),
          ("kausi", "Kausi alkaa", "date", None), ("lisenssi", "Lisenssinumero", "number", None))
ORG_NAME = "Benchmark ry"
TYPE_NAME = "Varsinainen jäsen"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def person(i: int) -> dict[str, Any]:
    first, last = FIRST[i % len(FIRST)], LAST[(i // 10) % len(LAST)] + str(i // 120)
    return {
        "email": f"jasen{i}@example.fi", "first_name": first, "last_name": last,
        "street_address": f"Kotikatu {i % 97 + 1} A {i % 13 + 1}",
        "postal_code": f"{(i * 7) % 99999:05d}", "city": CITIES[i % len(CITIES)],
        "country": "FI", "phone": f"+35840{1000000 + i:07d}",
        "birth_date": date(1940, 1, 1) + timedelta(days=(i * 37) % 25000),
        "language": "sv" if i % 20 == 0 else "fi",
    }


def membership(i: int) -> dict[str, Any]:
    start = date(2000, 1, 1) + timedelta(days=(i * 11) % 9000)
    resigned = i % 12 == 0
    return {"member_number": i + 1, "start_date": start,
            "status": "resigned" if resigned else "active",
            "end_date": start + timedelta(days=400) if resigned else None}


def custom(i: int) -> dict[str, str]:
    return {"lehti": "true" if i % 3 else "false", "vyo": BELTS[i % len(BELTS)],
            "kausi": (date(2026, 1, 1) + timedelta(days=i % 300)).isoformat(),
            "lisenssi": str(100000 + i)}


def row(i: int) -> list[Any]:
    """One export row, exactly as the exporter produces it from the seeded data."""
    p, m, c = person(i), membership(i), custom(i)
    return [m["member_number"], p["last_name"], p["first_name"], p["email"], p["phone"],
            p["street_address"], p["postal_code"], p["city"], p["country"], p["birth_date"],
            "ruotsi" if p["language"] == "sv" else "suomi", ORG_NAME, TYPE_NAME,
            STATUS[m["status"]], m["start_date"], m["end_date"], c["lehti"] == "true",
            c["vyo"], date.fromisoformat(c["kausi"]), int(Decimal(c["lisenssi"]))]


HEADERS = ["Jäsennumero", "Sukunimi", "Etunimi", "Sähköposti", "Puhelin", "Lähiosoite",
           "Postinumero", "Postitoimipaikka", "Maa", "Syntymäaika", "Kieli", "Yhdistys",
           "Jäsenlaji", "Tila", "Liittymispäivä", "Päättymispäivä", "Jäsenlehti", "Vyöarvo",
           "Kausi alkaa", "Lisenssinumero"]
KINDS = ["int", "text", "text", "text", "text", "text", "text", "text", "text", "date", "text",
         "text", "text", "text", "date", "date", "bool", "text", "date", "int"]


# ---------------------------------------------------------------- seeding

def seed(url: str, members: int) -> int:
    import sqlalchemy as sa

    from membook_app.cli.admin import upgrade_database
    from membook_app.db import session_scope
    from membook_app.register.custom_fields import create_field
    from membook_app.register.organizations import create_organization
    from models import CustomFieldValue, Membership, MembershipType, Person, utcnow

    upgrade_database(url)
    with session_scope(url) as s:
        org = create_organization(s, None, name=ORG_NAME, plan_code="premium")
        mtype = MembershipType(organization_id=org.id, name=TYPE_NAME)  # type: ignore[arg-type]
        s.add(mtype)
        fields = {}
        for key, label, kind, choices in CUSTOM:
            fields[key] = create_field(s, None, org.id,  # type: ignore[arg-type]
                                       {"key": key, "label": label, "kind": kind,
                                        "choices": choices}).id
        s.flush()
        org_id, type_id = org.id, mtype.id
    now = utcnow()
    chunk = 5000
    for start in range(0, members, chunk):
        ids = range(start, min(start + chunk, members))
        with session_scope(url) as s:
            pids = s.execute(sa.insert(Person).returning(Person.id, sort_by_parameter_order=True),
                             [{**person(i), "created_at": now, "updated_at": now}
                              for i in ids]).scalars().all()
            s.execute(sa.insert(Membership), [
                {**membership(i), "person_id": pid, "organization_id": org_id,
                 "type_id": type_id, "created_at": now} for i, pid in zip(ids, pids, strict=True)])
            s.execute(sa.insert(CustomFieldValue), [
                {"person_id": pid, "field_id": fields[k], "value": v}
                for i, pid in zip(ids, pids, strict=True) for k, v in custom(i).items()])
        log(f"  seeded {min(start + chunk, members):,}")
    return org_id  # type: ignore[return-value]


# ---------------------------------------------------------------- children

def peak_rss_mb() -> float:
    """This process's own peak RSS. VmHWM belongs to the address space exec created;
    ru_maxrss would carry the parent's peak over a fork (the parent holds the seeder)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_export(url: str, org_id: int, out: Path) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    from membook_app.db import session_scope
    from membook_app.register.exporter import export_members
    from membook_app.register.search import RegisterQuery

    started = time.perf_counter()
    with session_scope(url) as s:
        result = export_members(s, None, RegisterQuery(organization_id=org_id, status=None),
                                out, fmt="xlsx")
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "rows": result.rows, "columns": len(result.columns)}


def child_xlsxwriter(members: int, out: Path, typed: bool, fast: bool = False) -> dict[str, Any]:
    import xlsxwriter

    rows = [row(i) for i in range(members)]
    started = time.perf_counter()
    workbook = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    sheet = workbook.add_worksheet("Jäsenet")
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "d.m.yyyy"})
    sheet.freeze_panes(1, 0)
    sheet.write_row(0, 0, HEADERS, bold)
    if typed:
        ws, wn, wd, wb = (sheet.write_string, sheet.write_number, sheet.write_datetime,
                          sheet.write_boolean)
        if fast:  # the undecorated methods the exporter uses (no A1-notation check)
            ws, wn, wd, wb = (sheet._write_string, sheet._write_number, sheet._write_datetime,
                              sheet._write_boolean)
        writers = [(i, {"text": ws, "int": wn, "bool": wb}.get(k)) for i, k in enumerate(KINDS)]
        for r, values in enumerate(rows, start=1):
            for i, write in writers:
                value = values[i]
                if value is None or value == "":
                    continue
                if write is None:
                    wd(r, i, value, date_format)
                else:
                    write(r, i, value)
    else:
        dates = [i for i, k in enumerate(KINDS) if k == "date"]
        for r, values in enumerate(rows, start=1):
            sheet.write_row(r, 0, values)
            for i in dates:  # the dates again with their format, or Excel shows numbers
                if values[i] is not None:
                    sheet.write_datetime(r, i, values[i], date_format)
    sheet.autofilter(0, 0, len(rows), len(HEADERS) - 1)
    workbook.close()
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def child_openpyxl(members: int, out: Path) -> dict[str, Any]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    rows = [row(i) for i in range(members)]
    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Jäsenet")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:T{len(rows) + 1}"
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    dates = [i for i, k in enumerate(KINDS) if k == "date"]
    for values in rows:
        out_row: list[Any] = list(values)
        for i in dates:
            if values[i] is not None:
                cell = WriteOnlyCell(sheet, value=values[i])
                cell.number_format = "d.m.yyyy"
                out_row[i] = cell
        sheet.append(out_row)
    workbook.save(str(out))
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def run_child(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if args.child == "export":
        result = child_export(args.url, args.org_id, out)
    elif args.child == "xlsxwriter":
        result = child_xlsxwriter(args.members, out, typed=True)
    elif args.child == "xlsxwriter_fast":
        result = child_xlsxwriter(args.members, out, typed=True, fast=True)
    elif args.child == "xlsxwriter_row":
        result = child_xlsxwriter(args.members, out, typed=False)
    else:
        result = child_openpyxl(args.members, out)
    result["peak_rss_mb"] = peak_rss_mb()
    result["bytes"] = out.stat().st_size
    print(json.dumps(result))


def spawn(name: str, extra: list[str], out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", name, "--out", str(out), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--org-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="membook-bench-export-"))
    os.environ["VAR_DIR"] = str(tmp / "var")
    pg_name = None
    if args.db == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        import psycopg

        pg_name = f"membook_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {pg_name}")
        url = f"postgresql://postgres@127.0.0.1:5432/{pg_name}"
    os.environ["DATABASE_URL"] = url
    try:
        log(f"seeding {args.members:,} members into {args.db} ...")
        started = time.perf_counter()
        org_id = seed(url, args.members)
        log(f"  seeded in {time.perf_counter() - started:.1f} s")
        runs: dict[str, list[dict[str, Any]]] = {}
        for attempt in range(args.repeat):
            for name in ("xlsxwriter", "xlsxwriter_fast", "xlsxwriter_row", "openpyxl",
                         "export"):
                extra = (["--url", url, "--org-id", str(org_id)] if name == "export"
                         else ["--members", str(args.members)])
                log(f"run {attempt + 1}: {name} ...")
                result = spawn(name, extra, tmp / f"{name}.xlsx")
                log(f"  {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB")
                runs.setdefault(name, []).append(result)
    finally:
        if pg_name:
            import psycopg

            from membook_app.db import get_engine

            get_engine(url).dispose()
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)  # the database and the files (~100 MB)

    best = {name: min(r["seconds"] for r in results) for name, results in runs.items()}
    rss = {name: max(r["peak_rss_mb"] for r in results) for name, results in runs.items()}
    bare = {k: v for k, v in best.items() if k != "export"}
    fastest = min(bare, key=bare.get)  # type: ignore[arg-type]
    ratio = best["export"] / bare[fastest]
    exported = runs["export"][0]
    print(f"{'writer':<16} {'seconds':>8} {'peak RSS MB':>12}")
    for name in ("export", *bare):
        print(f"{name:<16} {best[name]:>8.2f} {rss[name]:>12.0f}")
    print(f"export / fastest bare ({fastest}): {ratio:.3f} (goal <= {GOAL_RATIO}); "
          f"export peak RSS {rss['export']:.0f} MB (goal < {GOAL_RSS_MB:.0f})")
    print(json.dumps({
        "db": args.db, "members": args.members, "rows": exported["rows"],
        "columns": exported["columns"], "repeat": args.repeat,
        "export_seconds": round(best["export"], 3),
        "export_peak_rss_mb": round(rss["export"], 1),
        "bare_seconds": {k: round(v, 3) for k, v in bare.items()},
        "bare_peak_rss_mb": {k: round(v, 1) for k, v in rss.items() if k != "export"},
        "fastest_bare": fastest, "ratio": round(ratio, 3), "goal_ratio": GOAL_RATIO,
        "goal_rss_mb": GOAL_RSS_MB,
        "ok": ratio <= GOAL_RATIO and rss["export"] < GOAL_RSS_MB,
    }))


if __name__ == "__main__":
    main()
