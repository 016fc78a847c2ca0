"""Text of explanatory notes for the search index: PDF (pypdf), DOCX (python-docx).

A scanned PDF has no text layer and gives an empty string (OCR is not attempted); a damaged
file gives what could be read. Extraction is bounded (pages, characters) so a huge note cannot
hold the server.
"""

from __future__ import annotations

import logging
from pathlib import Path

from iocgis.planning_docs import sniff
from iocgis.planning_docs.vntext import MAX_INDEXED_CHARS

log = logging.getLogger("iocgis.planning_docs")
MAX_PAGES = 500


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    parts: list[str] = []
    size = 0
    try:
        reader = PdfReader(path)
        for page in reader.pages[:MAX_PAGES]:
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size > MAX_INDEXED_CHARS:
                break
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        log.warning("text of %s read only in part: %s", path.name, exc)
    return "\n".join(parts)


def _docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def extract_text(path: Path, media_type: str) -> str:
    """The document's text ('' for drawings, images and PDFs without a text layer)."""
    try:
        if media_type == sniff.PDF:
            text = _pdf_text(path)
        elif media_type == sniff.DOCX:
            text = _docx_text(path)
        else:
            return ""
    except Exception as exc:  # noqa: BLE001 - a document we cannot read is kept, unindexed
        log.warning("no text read from %s: %s", path.name, exc)
        return ""
    return text[:MAX_INDEXED_CHARS]
