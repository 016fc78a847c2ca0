"""The printable "thông tin quy hoạch" sheet: a one-page PDF with Vietnamese headings, the
zones' limits and the decision, and a map of the parcel over the zones — checked by rendering
the PDF to PNG (poppler's pdftoppm: not blank, the map's colours there) and reading its text
(pdftotext)."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from .conftest import LOOKUP_PARCEL as PARCEL
from .conftest import LOOKUP_PLAN as PLAN

HEADINGS = ("THÔNG TIN QUY HOẠCH", "1. Vị trí tra cứu", "2. Sơ đồ vị trí",
            "3. Đồ án quy hoạch đã phê duyệt", "4. Chỉ tiêu quy hoạch sử dụng đất")


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def pdf_pages(pdf: Path, out: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(out / "page")], check=True)
    return sorted(out.glob("page*.png"))


def test_the_sheet_of_a_parcel_prints_on_one_page(
        clients: dict[str, httpx.Client], approved_plan: dict,
        tmp_path: Path, artifacts_dir: Path) -> None:
    response = clients["analyst"].get("/planning/lookup", params={
        "parcel": PARCEL, "as_of": "2024-06-01", "f": "pdf"})
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    pdf = tmp_path / "thong_tin_quy_hoach.pdf"
    pdf.write_bytes(response.content)
    (artifacts_dir / "planning-sheet.pdf").write_bytes(response.content)
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) == 1
    image = np.asarray(Image.open(pages[0]).convert("RGB"))
    (artifacts_dir / "planning-sheet.png").write_bytes(pages[0].read_bytes())
    assert (image < 250).any(axis=2).mean() > 0.03  # ink on the page, not a blank one
    colours = {tuple(int(v) for v in c) for c in image.reshape(-1, 3)[::7]}
    assert any(abs(r - 255) < 12 and abs(g - 165) < 20 and abs(b - 255) < 12  # ODT's #ffa0ff
               for r, g, b in colours)
    text = pdf_text(pdf)
    for heading in HEADINGS:
        assert heading in text, heading
    assert "LK-ODT-01" in text and "LK-TMD-01" in text and PLAN in text
    assert "789/QĐ-UBND" in text and "UBND tỉnh Đồng Nai" in text
    assert "Đất ở tại đô thị" in text and "Tờ bản đồ" in text


def test_a_point_sheet_and_its_html(clients: dict[str, httpx.Client],
                                    approved_plan: dict, tmp_path: Path) -> None:
    anonymous = clients["anonymous"]
    point = {"point": "106.8405,10.9515", "as_of": "2024-06-01"}
    pdf = anonymous.get("/planning/lookup", params={**point, "f": "pdf"})
    assert pdf.status_code == 200
    path = tmp_path / "diem.pdf"
    path.write_bytes(pdf.content)
    assert "Tọa độ (WGS84)" in pdf_text(path) and len(pdf_pages(path, tmp_path)) == 1
    html = anonymous.get("/planning/lookup", params={**point, "f": "html"})
    assert html.status_code == 200 and "<svg" in html.text and "THÔNG TIN QUY HOẠCH" in html.text
    assert io.BytesIO(pdf.content).getbuffer().nbytes > 5000
