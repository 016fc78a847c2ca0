"""Helpers of the report tests: run a job over HTTP to its end, open the outputs."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import httpx
import openpyxl


def run_job(client: httpx.Client, timeout: float = 240, **order: object) -> dict:
    started = client.post("/reports/jobs", json=order)
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/reports/jobs/{job_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"report job did not end: {body}"
        time.sleep(0.2)


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data), data_only=True)


def sheet_rows(book: openpyxl.Workbook, title_start: str) -> list[tuple]:
    """The data rows (below the two header rows) of the sheet whose name starts so."""
    (sheet,) = [s for s in book.worksheets if s.title.startswith(title_start)]
    return [r for r in sheet.iter_rows(min_row=3, values_only=True)]


def pdf_text(data: bytes, folder: Path) -> str:
    path = folder / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def pdf_pages(data: bytes, folder: Path, dpi: int = 40) -> list[Path]:
    path = folder / "pages.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(path), str(folder / "page")],
                   check=True)
    return sorted(folder.glob("page*.png"))
