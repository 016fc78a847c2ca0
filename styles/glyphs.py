"""Glyph PBFs (signed-distance fields) for map labels, built locally from Debian's Noto Sans
with npm ``fontnik`` and served from a git-ignored folder.

Vietnamese needs the ranges 0-255 (Latin-1), 256-511 (ă, đ, ĩ, ơ, ư...), 7680-7935 (ạ, ả, ấ,
ầ... the Latin Extended Additional letters) and 768-1023 (combining marks, for text that is
not NFC). ``build_glyphs`` writes all 256 ranges; a range that a font lacks is answered with a
valid empty PBF so a label with an unusual letter never breaks a map.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from pathlib import Path

from iocgis.errors import ConfigError, InvalidInput, NotFound
from iocgis.settings import PROJECT_ROOT

GLYPHS_DIR = Path(__file__).resolve().parent / "glyphs"
FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/truetype"))
# Font stack name (as in the style's text-font) -> TrueType file of Debian's fonts-noto-core.
FONTS = {"Noto Sans Regular": "NotoSans-Regular.ttf", "Noto Sans Bold": "NotoSans-Bold.ttf"}
VIETNAMESE_RANGES = ("0-255", "256-511", "768-1023", "7680-7935")
RANGE_RE = re.compile(r"^(\d{1,5})-(\d{1,5})$")
_build_lock = threading.Lock()


def fontnik_script() -> Path:
    return PROJECT_ROOT / "node_modules" / "fontnik" / "bin" / "build-glyphs"


def find_font(filename: str) -> Path | None:
    for folder in FONT_DIRS:
        for path in (folder / filename, *folder.glob(f"*/{filename}")):
            if path.is_file():
                return path
    return None


def is_built(directory: Path = GLYPHS_DIR) -> bool:
    return all((directory / stack / f"{r}.pbf").exists()
               for stack in FONTS for r in VIETNAMESE_RANGES)


def build_glyphs(directory: Path = GLYPHS_DIR, force: bool = False) -> list[Path]:
    """Build every range of every font stack; returns the folders written."""
    node = shutil.which("node")
    script = fontnik_script()
    if node is None or not script.exists():
        raise ConfigError("cannot build map glyphs: node or npm fontnik is missing",
                          where=str(script), hint="run `npm ci` in the checkout (iocgis.sh does)")
    written = []
    with _build_lock:
        for stack, filename in FONTS.items():
            out = directory / stack
            if not force and all((out / f"{r}.pbf").exists() for r in VIETNAMESE_RANGES):
                continue
            font = find_font(filename)
            if font is None:
                raise ConfigError(f"font {filename} not found", where=", ".join(map(str, FONT_DIRS)),
                                  hint="install Debian's fonts-noto-core (iocgis.sh does)")
            tmp = directory / f".{stack}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            subprocess.run([node, str(script), str(font), str(tmp)], check=True,
                           capture_output=True, timeout=300)
            shutil.rmtree(out, ignore_errors=True)
            tmp.rename(out)
            written.append(out)
    return written


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def empty_range(stack: str, glyph_range: str) -> bytes:
    """A valid glyphs PBF with no glyph: ``glyphs { stacks { name, range } }``."""
    return _field(1, _field(1, stack.encode()) + _field(2, glyph_range.encode()))


def glyph_range(fontstack: str, glyph_range: str, directory: Path = GLYPHS_DIR) -> bytes:
    """The PBF of one range for a font stack (the first known font of a comma list)."""
    match = RANGE_RE.match(glyph_range)
    if not match or int(match[2]) - int(match[1]) != 255 or int(match[1]) % 256:
        raise InvalidInput(f"bad glyph range {glyph_range[:20]!r}", where="range",
                           hint="ranges are 256 code points: 0-255, 256-511, ...")
    stack = next((s.strip() for s in fontstack.split(",") if s.strip() in FONTS), None)
    if stack is None:
        raise NotFound(f"unknown font stack {fontstack[:60]!r}", where="fontstack",
                       hint=f"use one of: {', '.join(FONTS)}")
    if not (directory / stack).is_dir():
        build_glyphs(directory)  # first use on a machine where set-up did not build them
    path = directory / stack / f"{glyph_range}.pbf"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return empty_range(stack, glyph_range)


def glyph_ids(pbf: bytes) -> set[int]:
    """The code points a glyph PBF holds (a small protobuf reader, for checks and tests)."""

    def read_varint(buf: bytes, i: int) -> tuple[int, int]:
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    def fields(buf: bytes):
        i = 0
        while i < len(buf):
            key, i = read_varint(buf, i)
            number, wire = key >> 3, key & 7
            if wire == 0:
                val, i = read_varint(buf, i)
                yield number, wire, val
            elif wire == 2:
                size, i = read_varint(buf, i)
                yield number, wire, buf[i:i + size]
                i += size
            elif wire == 5:
                yield number, wire, buf[i:i + 4]
                i += 4
            elif wire == 1:
                yield number, wire, buf[i:i + 8]
                i += 8
            else:
                raise ValueError(f"unsupported protobuf wire type {wire}")

    ids = set()
    for number, _, stack in fields(pbf):
        if number != 1:
            continue
        for n2, _, glyph in fields(stack):
            if n2 != 3:
                continue
            for n3, _, val in fields(glyph):
                if n3 == 1:
                    ids.add(val)
    return ids
