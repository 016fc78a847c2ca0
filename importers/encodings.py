"""Legacy Vietnamese encodings: TCVN3 (ABC, .Vn fonts), VNI and Windows-1258.

TCVN3 and VNI text is stored as single bytes that a Latin-1 reader shows as mojibake
("§ång Nai"); ``viparse`` maps those characters back to Unicode. A DBF without a .cpg
whose text is not valid UTF-8 is sniffed, and the import stops naming the likely encoding.
"""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path

import pyarrow as pa
import viparse

from iocgis.errors import InvalidInput

ALIASES = {"utf8": "utf-8", "utf-8": "utf-8", "utf_8": "utf-8", "unicode": "utf-8",
           "cp1258": "cp1258", "windows-1258": "cp1258", "1258": "cp1258",
           "tcvn3": "tcvn3", "tcvn": "tcvn3", "abc": "tcvn3", "tcvn-3": "tcvn3",
           "vni": "vni", "vni-windows": "vni", "latin1": "latin-1", "latin-1": "latin-1",
           "iso-8859-1": "latin-1", "cp1252": "cp1252"}
LEGACY = ("tcvn3", "vni")


def canonical(encoding: str | None) -> str | None:
    if encoding is None:
        return None
    name = ALIASES.get(encoding.strip().lower())
    if name is None:
        import codecs

        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise InvalidInput(f"unknown text encoding {encoding!r}", where="--encoding",
                               hint="use utf-8, cp1258, tcvn3 or vni") from None
    return name


def reader_encoding(encoding: str) -> str:
    """The codec the file is read with: anything but UTF-8 is read byte-for-byte as Latin-1
    and decoded here (GDAL's own recoding does not know Windows-1258)."""
    return "utf-8" if encoding == "utf-8" else "latin-1"


def convert_column(values: pa.Array, encoding: str) -> pa.Array:
    """Text read as Latin-1 to Unicode NFC: legacy fonts through viparse, codecs by decoding."""
    if encoding == "utf-8" or not pa.types.is_string(values.type):
        return values
    return pa.array([None if v is None else convert_text(v, encoding)
                     for v in values.to_pylist()], type=pa.string())


def convert_text(value: str, encoding: str) -> str:
    """One string read as Latin-1 to Unicode NFC."""
    if encoding in LEGACY:
        value = viparse.fix(value, encoding=encoding)
    elif encoding not in ("utf-8", "latin-1"):
        value = value.encode("latin-1").decode(encoding, errors="replace")
    return unicodedata.normalize("NFC", value)


def _dbf_text_sample(dbf: Path, limit_bytes: int = 2 * 1024 * 1024) -> list[bytes]:
    """Raw bytes of the character fields of the first records (the DBF layout is fixed)."""
    with dbf.open("rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            return []
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        fields = []
        offset = 1  # the deletion flag
        while True:
            desc = fh.read(32)
            if not desc or desc[0] == 0x0D or len(desc) < 32:
                break
            ftype, flen = chr(desc[11]), desc[16]
            if ftype in "CM":
                fields.append((offset, flen))
            offset += flen
        fh.seek(header_len)
        data = fh.read(min(limit_bytes, n_records * record_len))
    values = []
    for start in range(0, len(data) - record_len + 1, max(1, record_len)):
        record = data[start:start + record_len]
        for off, flen in fields:
            value = record[off:off + flen].rstrip(b" \x00")
            if value:
                values.append(value)
    return values


def sniff_dbf(dbf: Path, shown: str) -> tuple[str, str | None]:
    """The encoding of a DBF without .cpg: 'utf-8' when its text is UTF-8 (or ASCII), else
    stop with the likely legacy encoding. Returns (encoding, note)."""
    sample = _dbf_text_sample(dbf)
    non_ascii = [v for v in sample if any(b > 0x7F for b in v)]
    if not non_ascii:
        return "utf-8", None
    try:
        for v in non_ascii:
            v.decode("utf-8")
        return "utf-8", "no .cpg: the text is valid UTF-8, read as UTF-8"
    except UnicodeDecodeError:
        pass
    text = " ".join(v.decode("latin-1") for v in non_ascii[:2000])
    guess = viparse.detect_text_encoding(text)
    example = non_ascii[0].decode("latin-1")
    if guess in LEGACY:
        fixed = viparse.fix(example, encoding=guess)
        raise InvalidInput(
            f"{shown} has no .cpg and its text is not UTF-8; it looks like {guess.upper()} "
            f"(e.g. {example[:40]!r} would read {fixed[:40]!r})", where=shown,
            hint=f"run again with --encoding {guess} (or add a .cpg file naming the encoding)")
    cp = " ".join(v.decode("cp1258", errors="replace") for v in non_ascii[:200])
    raise InvalidInput(
        f"{shown} has no .cpg and its text is not UTF-8 (e.g. {example[:40]!r})", where=shown,
        hint="it is probably Windows-1258: run again with --encoding cp1258 "
             f"(it would read {cp[:40]!r}); if that looks wrong, try --encoding tcvn3 or vni")


def read_cpg(cpg: Path) -> str | None:
    """The encoding a .cpg names, or None when it is empty or unknown."""
    name = cpg.read_text(errors="replace").strip().lower()
    if not name:
        return None
    if name in ("65001", "utf8", "utf-8"):
        return "utf-8"
    if name in ("1258", "cp1258", "windows-1258", "ansi 1258"):
        return "cp1258"
    try:
        return canonical(name)
    except InvalidInput:
        return None

