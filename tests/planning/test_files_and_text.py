"""The pieces under the dossier API, on real files: type sniffing from content, the
content-addressed store (checksum checked on read), the virus-scan hook, text extraction from
PDF and DOCX, tone-mark normalisation, and building limits read from a drawing's label."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import pytest

from iocgis.errors import PayloadTooLarge, TemporarilyUnavailable
from iocgis.planning_docs import sniff
from iocgis.planning_docs.filestore import LocalFileStore, StoredFileCorrupt, receive
from iocgis.planning_docs.limits import from_label
from iocgis.planning_docs.scan import InfectedFile, scan
from iocgis.planning_docs.textextract import extract_text
from iocgis.planning_docs.vntext import normalise

from .conftest import halves
from .files import make_docx, make_dxf, make_pdf


def test_types_come_from_the_content_not_the_name(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "thuyet_minh.docx", "Thuyết minh", ["Nội dung"])  # misnamed
    docx = make_docx(tmp_path / "ghi_chu.pdf", "Ghi chú", ["Nội dung"])
    dxf = make_dxf(tmp_path / "ban_ve.png", [{"zone_code": "A", "land_use": "ODT",
                                             "rules": "MĐXD 60%",
                                             "geom": halves("QHCT-API-01")[0]}])
    png = tmp_path / "anh.pdf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    tiff = tmp_path / "scan.txt"
    tiff.write_bytes(b"II*\x00" + b"\x00" * 40)
    xlsx = tmp_path / "bang.docx"
    with zipfile.ZipFile(xlsx, "w") as archive:  # a ZIP, but not a Word document
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    exe = tmp_path / "virus.pdf"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 60)
    assert sniff.sniff(pdf).media_type == sniff.PDF
    assert sniff.sniff(docx).media_type == sniff.DOCX
    assert sniff.sniff(dxf).media_type == sniff.DXF
    assert sniff.sniff(png).media_type == sniff.PNG
    assert sniff.sniff(tiff).media_type == sniff.TIFF
    assert sniff.sniff(xlsx).media_type is None
    assert sniff.sniff(exe).media_type is None


def test_the_store_keeps_one_copy_and_checks_it_on_every_read(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    first = receive(io.BytesIO(b"%PDF-1.7 noi dung"), store, 1024)
    again = receive(io.BytesIO(b"%PDF-1.7 noi dung"), store, 1024)
    assert first.sha256 == again.sha256 and first.size == 17
    store.keep(first)
    store.keep(again)
    path = store.fetch(first.sha256)
    assert path.read_bytes() == b"%PDF-1.7 noi dung"
    assert path.relative_to(store.root).parts[:2] == (first.sha256[:2], first.sha256[2:4])
    assert not list((store.root / "incoming").iterdir())  # the duplicate was dropped
    path.write_bytes(b"%PDF-1.7 tampered")
    with pytest.raises(StoredFileCorrupt, match="fails its SHA-256 check"):
        store.fetch(first.sha256)
    with pytest.raises(PayloadTooLarge):
        receive(io.BytesIO(b"x" * 2048), store, 1024)
    assert not list((store.root / "incoming").iterdir())  # the refused upload is gone


def test_the_scan_hook_refuses_infected_files_and_reports_a_broken_scanner(
        tmp_path: Path) -> None:
    clean, infected = tmp_path / "clean.pdf", tmp_path / "infected.pdf"
    clean.write_bytes(b"%PDF-1.7 sach")
    infected.write_bytes(b"%PDF-1.7 EICAR-MARK")
    command = ["sh", "-c", '! grep -q EICAR-MARK "$1"', "scan", "{path}"]
    asyncio.run(scan(clean, command, 10, "clean.pdf"))
    asyncio.run(scan(clean, [], 10, "clean.pdf"))  # no scanner configured: the hook passes
    with pytest.raises(InfectedFile, match="infected.pdf"):
        asyncio.run(scan(infected, command, 10, "infected.pdf"))
    with pytest.raises(TemporarilyUnavailable, match="exit 2"):
        asyncio.run(scan(clean, ["sh", "-c", "exit 2"], 10, "clean.pdf"))
    with pytest.raises(TemporarilyUnavailable, match="did not answer"):
        asyncio.run(scan(clean, ["/no/such/scanner", "{path}"], 10, "clean.pdf"))


def test_text_is_extracted_from_pdf_and_docx_notes(tmp_path: Path) -> None:
    words = "Khu dân cư phường Trấn Biên, thành phố Biên Hòa"
    pdf = make_pdf(tmp_path / "a.pdf", "Thuyết minh tổng hợp", [words])
    docx = make_docx(tmp_path / "a.docx", "Báo cáo lấy ý kiến", [words])
    assert "Trấn Biên" in extract_text(pdf, sniff.PDF)
    assert "Báo cáo lấy ý kiến" in extract_text(docx, sniff.DOCX)
    assert extract_text(docx, sniff.PNG) == ""


def test_old_and_new_tone_marks_are_written_one_way() -> None:
    assert normalise("Biên Hòa") == normalise("Biên Hoà") == "Biên Hoà"
    assert normalise("THỦY LỢI") == "THUỶ LỢI"
    assert normalise("khỏe") == "khoẻ"
    assert normalise("hoàng quý") == "hoàng quý"  # closed syllables and qu- are unchanged


def test_limits_are_read_from_a_drawing_label() -> None:
    assert from_label("MĐXD 60% - HSSDĐ 3,0 - 5 tầng") == {
        "density_max_pct": 60.0, "far_max": 3.0, "floors_max": 5}
    assert from_label("mật độ xây dựng tối đa 45,5% ; chiều cao tối đa 21 m") == {
        "density_max_pct": 45.5, "height_max_m": 21.0}
    assert from_label(None) == {} and from_label("Đất cây xanh") == {}
