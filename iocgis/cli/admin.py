"""``iocgis admin convert VALUE|FILE``: pre-July-2025 administrative units (63 provinces,
districts, old communes) to the current 34 provinces and 3,321 communes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from iocgis.errors import InvalidInput

console = Console()
admin_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="Administrative units: convert pre-2025 codes and names.")
LEVELS = ("auto", "commune", "district", "province")
# feature: its position in the file (for CSV/XLSX the spreadsheet row, the header being row 1)
CSV_COLUMNS = ("feature", "given", "status", "commune_code", "commune", "province_code", "province",
               "candidates")


def _candidates(conversion: dict) -> str:
    return "; ".join(f"{c['code']} {c['name']}" + (" (default)" if c["default"] else "")
                     for c in conversion["candidates"])


def _print_one(conversion: dict) -> None:
    table = Table(show_header=False, title=f"{conversion['given']} ({conversion['status']})")
    table.add_column(style="bold")
    table.add_column()
    old = conversion["old"]
    rows = [("before 1 July 2025", f"{old['code'] or ''} {old['name']}".strip() if old else "-"),
            ("commune", f"{conversion['commune_code'] or ''} {conversion['commune'] or ''}"),
            ("province", f"{conversion['province_code'] or ''} {conversion['province'] or ''}"),
            ("split between", _candidates(conversion))]
    for label, value in rows:
        table.add_row(label, value.strip() or "-")
    console.print(table)


@admin_app.command("convert")
def convert(
    value: str = typer.Argument(..., help="an old code (26011), name or address ('Phường Bửu "
                                          "Long, Thành phố Biên Hòa, Đồng Nai'), or a file"),
    field: list[str] = typer.Option([], "--field", "-f",
                                    help="for a file: the field holding old units (repeat it to "
                                         "join several into an address: xã, huyện, tỉnh)"),
    level: str = typer.Option("auto", "--level", help="what codes are: auto (by length), "
                                                      "commune, district, province"),
    encoding: str | None = typer.Option(None, "--encoding", help="text encoding of the file: "
                                                                  "utf-8, cp1258, tcvn3, vni"),
    source_layer: str | None = typer.Option(None, "--source-layer",
                                            help="layer of a multi-layer file"),
    out: Path | None = typer.Option(None, "--out", "-o", help="write one CSV row per feature"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Convert an old code, name or address, or the old units of a file's field(s)."""
    from iocgis.importers import admin_units

    if level not in LEVELS:
        raise InvalidInput(f"--level {level!r} is not a level", where="--level",
                           hint=f"use one of: {', '.join(LEVELS)}")
    if not Path(value).exists():
        if field or out:
            raise InvalidInput(f"{value} is not a file", where="VALUE",
                               hint="--field and --out are for files; give the file's path")
        conversion = admin_units.table().convert(value, level)
        result = conversion.as_dict()
        if as_json:
            typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        else:
            _print_one(result)
        if conversion.status == "split":
            raise InvalidInput(conversion.describe(), where=value,
                               hint="its successor depends on the location: choose one of them")
        if conversion.status == "unknown":
            raise InvalidInput(f"{value!r} is not a pre-2025 administrative unit", where=value,
                               hint="give a code (2 digits a province, 3 a district, 5 a "
                                    "commune) or a name with its district and province")
        return
    if not field:
        raise InvalidInput(f"say which field of {value} holds the old units", where="--field",
                           hint="e.g. --field MA_XA_CU, or --field TEN_XA --field TEN_HUYEN "
                                "--field TEN_TINH")
    _convert_file(value, field, level, encoding, source_layer, out, as_json)


def _convert_file(path: str, fields: list[str], level: str, encoding: str | None,
                  source_layer: str | None, out: Path | None, as_json: bool) -> None:
    from iocgis.importers.admin_convert import convert_file

    result = convert_file(path, fields, level=level, encoding=encoding,
                          source_layer=source_layer)
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for fid, conversion in result.rows:
                body = conversion.as_dict() if conversion else None
                writer.writerow([fid, *((body["given"], body["status"], body["commune_code"],
                                         body["commune"], body["province_code"],
                                         body["province"], _candidates(body))
                                        if body else ("", "empty", "", "", "", "", ""))])
    summary = {"file": path, "fields": fields, "rows": len(result.rows),
               "by_status": dict(result.by_status()),
               "values": [{**c.as_dict(), "rows": result.counts[v]}
                          for v, c in result.distinct.items()]}
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        table = Table(title=f"{path}: {', '.join(fields)} ({len(result.rows)} rows)")
        for col in ("old value", "rows", "status", "current", "province", "split between"):
            table.add_column(col)
        for item in summary["values"]:
            current = f"{item['commune_code'] or ''} {item['commune'] or ''}".strip()
            table.add_row(item["given"], str(item["rows"]), item["status"], current or "-",
                          f"{item['province_code'] or ''} {item['province'] or ''}".strip() or "-",
                          _candidates(item) or "-")
        console.print(table)
        if out is not None:
            console.print(f"one row per feature written to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
