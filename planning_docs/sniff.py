"""What a file is, from its first bytes (never its name): PDF, DOCX, PNG, JPEG, TIFF, DXF.

A DOCX is a ZIP holding ``word/document.xml``; any other ZIP (an XLSX, a renamed archive) is
not one. A DXF is either the binary form (its sentinel) or text whose first group is
``0 / SECTION`` (comments ``999`` may precede it).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
DXF = "image/vnd.dxf"

EXTENSIONS = {PDF: "pdf", DOCX: "docx", PNG: "png", JPEG: "jpg", TIFF: "tif", DXF: "dxf"}
NAMES = {PDF: "PDF", DOCX: "Word (DOCX)", PNG: "PNG image", JPEG: "JPEG image",
         TIFF: "TIFF/GeoTIFF image", DXF: "DXF drawing"}
HEAD_BYTES = 4096
DXF_BINARY = b"AutoCAD Binary DXF\r\n\x1a\x00"


@dataclass(frozen=True)
class Sniffed:
    media_type: str | None  # None: none of the known types

    @property
    def name(self) -> str:
        return NAMES.get(self.media_type or "", "an unknown type")


def _is_text_dxf(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").decode("latin-1")
    lines = [line.strip() for line in text.splitlines()]
    i = 0
    while i + 1 < len(lines) and lines[i] == "999":  # DXF comments
        i += 2
    return i + 1 < len(lines) and lines[i] == "0" and lines[i + 1] == "SECTION"


def _is_docx(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names


def sniff(path: Path) -> Sniffed:
    """The media type the file's content shows."""
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    if b"%PDF-" in head[:1024]:
        return Sniffed(PDF)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(PNG)
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(JPEG)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return Sniffed(TIFF)
    if head.startswith(b"PK\x03\x04"):
        return Sniffed(DOCX if _is_docx(path) else None)
    if head.startswith(DXF_BINARY) or _is_text_dxf(head):
        return Sniffed(DXF)
    return Sniffed(None)
