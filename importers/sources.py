"""Find the one dataset a PATH holds (a file, a folder or a .zip) and check it is what it says.

Zips are unpacked into a private temporary folder (guarding against paths that climb out of
it and against archives that inflate beyond reason); folders and zips must hold exactly one
dataset, so an officer never loads the wrong one of several by accident.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from iocgis.errors import InvalidInput

# Extension -> our format name. The format decides the reader.
FORMATS: dict[str, str] = {
    ".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
    ".geojsonl": "GeoJSONSeq", ".geojsons": "GeoJSONSeq", ".geojsonseq": "GeoJSONSeq",
    ".ndjson": "GeoJSONSeq", ".kml": "KML", ".kmz": "KMZ", ".fgb": "FlatGeobuf",
    ".csv": "CSV", ".xlsx": "XLSX", ".dxf": "DXF", ".tif": "GeoTIFF", ".tiff": "GeoTIFF",
}
# Files that travel with a dataset and are never a dataset themselves.
SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".qpj", ".sbn", ".sbx", ".xml", ".aux", ".ovr",
            ".tfw", ".tifw", ".qmd", ".qml", ".sld", ".txt", ".md", ".pdf", ".yaml", ".yml",
            ".lock", ".fix", ".atx", ".ain", ".aih", ".ixs", ".mxs", ".msk"}
SUPPORTED = ", ".join(sorted({*FORMATS, ".zip"}))
MAX_UNZIPPED_BYTES = 50 * 1024**3
MAX_ZIP_RATIO = 200  # a legitimate GIS zip rarely inflates more than ~20x
_HASHERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="iocgis-checksum")


@dataclass
class Dataset:
    """One dataset to import, found on disk (possibly inside an unpacked zip)."""

    path: Path  # the dataset file (the .shp of a shapefile)
    format: str
    given: Path  # what the caller named
    _tmpdir: Path | None = field(default=None, repr=False)
    _checksum: Future[str] | None = field(default=None, repr=False)

    def start_checksum(self, compute: Callable[[Path], str], path: Path) -> None:
        """Hash the file in a thread, beside the reading (hashlib and file reads release
        the GIL), instead of reading a large file twice in a row."""
        self._checksum = _HASHERS.submit(compute, path)

    @property
    def checksum(self) -> str:
        return self._checksum.result() if self._checksum is not None else ""

    @property
    def name(self) -> str:
        """How to name the file in messages: the caller's path, plus the member of a zip."""
        if self.given.is_file() and self.given.suffix.lower() == ".zip" and self._tmpdir:
            return f"{self.given.name}:{self.path.relative_to(self._tmpdir)}"
        return str(self.given if self.given.is_file() else self.path)

    def cleanup(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _sniff(path: Path) -> str | None:
    """What the first bytes say the file is, for the formats that say it clearly."""
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"SQLite format 3\x00"):
        return "SQLite/GeoPackage"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP archive"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF image"
    if head[:4] == b"\x00\x00\x27\x0a":
        return "Shapefile"
    if head.startswith(b"%PDF"):
        return "PDF document"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "old Microsoft Office (OLE) file"
    if head.startswith(b"AutoCAD Binary DXF"):
        return "DXF drawing"
    if head.startswith(b"AC10"):
        return "DWG drawing"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") or text.startswith(b"["):
        return "JSON text"
    if text.startswith(b"<"):
        return "XML/KML text"
    if text.startswith(b"0") and b"SECTION" in head:
        return "DXF drawing"
    return None


# What each format's first bytes must look like (None: not checked by magic bytes).
_EXPECTED = {
    "GPKG": {"SQLite/GeoPackage"}, "ESRI Shapefile": {"Shapefile"}, "KMZ": {"ZIP archive"},
    "XLSX": {"ZIP archive"}, "GeoTIFF": {"TIFF image"}, "GeoJSON": {"JSON text"},
    "KML": {"XML/KML text"}, "DXF": {"DXF drawing"},
}
_BY_SNIFF = {"SQLite/GeoPackage": ".gpkg", "ZIP archive": ".zip", "TIFF image": ".tif",
             "Shapefile": ".shp", "JSON text": ".geojson", "XML/KML text": ".kml",
             "DXF drawing": ".dxf"}


def _check_file(path: Path, fmt: str, shown: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise InvalidInput(f"{shown} is empty (0 bytes)", where=shown,
                           hint="export the data again; nothing was imported")
    sniffed = _sniff(path)
    expected = _EXPECTED.get(fmt)
    if expected and sniffed not in expected:
        what = sniffed or "not a file of this kind"
        better = _BY_SNIFF.get(sniffed or "")
        hint = (f"rename it to {path.stem}{better} if that is what it is" if better
                else f"export the data again as {fmt}")
        raise InvalidInput(f"{shown} does not look like a {fmt} file ({what})", where=shown,
                           hint=hint)
    if fmt == "ESRI Shapefile":
        missing = [ext for ext in (".dbf", ".shx") if _sibling(path, ext) is None]
        if missing:
            raise InvalidInput(f"shapefile {shown} lacks its {' and '.join(missing)} file",
                               where=shown, hint="copy every file of the shapefile together "
                               "(.shp, .shx, .dbf, .prj, .cpg), or zip them")
        _check_shapefile_sizes(path, shown)


def _check_shapefile_sizes(shp: Path, shown: str) -> None:
    """GDAL reads a cut-off .shp as features without geometry: compare the sizes the headers
    promise with the sizes on disk instead."""
    problems = []
    for part in (shp, _sibling(shp, ".shx")):
        assert part is not None
        with part.open("rb") as fh:
            header = fh.read(100)
        actual = part.stat().st_size
        if len(header) < 100:
            problems.append(f"{part.name} has no complete header")
            continue
        promised = struct.unpack(">i", header[24:28])[0] * 2
        if promised != actual:
            problems.append(f"{part.name} should hold {promised:,} bytes but holds {actual:,}")
    dbf = _sibling(shp, ".dbf")
    assert dbf is not None
    with dbf.open("rb") as fh:
        head = fh.read(12)
    if len(head) == 12:
        n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
        promised = header_len + n_records * record_len
        if dbf.stat().st_size < promised:
            problems.append(f"{dbf.name} should hold {promised:,} bytes but holds "
                            f"{dbf.stat().st_size:,}")
    if problems:
        raise InvalidInput(f"shapefile {shown} is truncated or corrupt: {'; '.join(problems)}",
                           where=shown, hint="copy or export the shapefile again (all of its "
                                             "files), or send it zipped")


def _sibling(path: Path, ext: str) -> Path | None:
    """A shapefile's sidecar, whatever the case of its extension."""
    for candidate in path.parent.glob(path.stem + ".*"):
        if candidate.suffix.lower() == ext and candidate.stem == path.stem:
            return candidate
    return None


def sibling(path: Path, ext: str) -> Path | None:
    return _sibling(path, ext)


def _datasets_in(folder: Path) -> list[Path]:
    found = []
    for item in sorted(folder.rglob("*")):
        rel = item.relative_to(folder)
        if not item.is_file() or any(p.startswith(".") or p == "__MACOSX" for p in rel.parts):
            continue
        ext = item.suffix.lower()
        if ext in FORMATS:
            found.append(item)
    return found


def _unzip(archive: Path, shown: str) -> Path:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"{shown} is not a readable zip archive ({exc})", where=shown,
                           hint="create the zip again; it may be truncated") from exc
    with zf:
        members = zf.infolist()
        total = sum(m.file_size for m in members)
        packed = max(1, sum(m.compress_size for m in members))
        if total > MAX_UNZIPPED_BYTES or total / packed > MAX_ZIP_RATIO and total > 100 * 1024**2:
            raise InvalidInput(f"{shown} would unpack to {total / 1024**3:.1f} GB", where=shown,
                               hint="this does not look like GIS data; send the files themselves")
        target = Path(tempfile.mkdtemp(prefix="iocgis-import-"))
        for member in members:
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts:
                shutil.rmtree(target, ignore_errors=True)
                raise InvalidInput(f"{shown} holds an unsafe path {member.filename!r}",
                                   where=shown, hint="zip the files without absolute paths")
        try:
            zf.extractall(target)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise InvalidInput(f"{shown} cannot be unpacked ({exc})", where=shown,
                               hint="create the zip again; it may be truncated") from exc
    return target


def _one(found: list[Path], base: Path, shown: str) -> Path:
    if not found:
        raise InvalidInput(f"{shown} holds no dataset", where=shown,
                           hint=f"it must contain one file of a supported kind ({SUPPORTED})")
    if len(found) > 1:
        names = ", ".join(str(p.relative_to(base)) for p in found[:8])
        raise InvalidInput(f"{shown} holds {len(found)} datasets ({names})", where=shown,
                           hint="import them one at a time: name the file itself, or put one "
                                "dataset per folder or zip")
    return found[0]


def resolve(path: str | Path) -> Dataset:
    """The one dataset PATH holds; InvalidInput with what to do otherwise."""
    given = Path(path)
    shown = str(given)
    if not given.exists():
        raise InvalidInput(f"{shown} does not exist", where=shown, hint="check the path")
    if given.is_dir():
        chosen = _one(_datasets_in(given), given, shown)
        dataset = Dataset(chosen, FORMATS[chosen.suffix.lower()], given)
        _check_file(chosen, dataset.format, str(chosen))
        dataset.start_checksum(_folder_checksum, chosen)
        return dataset
    ext = given.suffix.lower()
    if ext == ".zip":
        if given.stat().st_size == 0:
            raise InvalidInput(f"{shown} is empty (0 bytes)", where=shown,
                               hint="create the zip again; nothing was imported")
        tmp = _unzip(given, shown)
        try:
            chosen = _one(_datasets_in(tmp), tmp, shown)
            dataset = Dataset(chosen, FORMATS[chosen.suffix.lower()], given, _tmpdir=tmp)
            _check_file(chosen, dataset.format, dataset.name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        dataset.start_checksum(sha256_of, given)
        return dataset
    if ext not in FORMATS:
        sniffed = _sniff(given) if given.stat().st_size else None
        better = _BY_SNIFF.get(sniffed or "")
        hint = (f"it looks like a {sniffed}: rename it to {given.stem}{better}" if better
                else f"supported: {SUPPORTED}")
        raise InvalidInput(f"{shown}: files ending in {ext or '(no extension)'!r} cannot be "
                           "imported", where=shown, hint=hint)
    dataset = Dataset(given, FORMATS[ext], given)
    _check_file(given, dataset.format, shown)
    dataset.start_checksum(_folder_checksum if dataset.format == "ESRI Shapefile" else sha256_of,
                           given)
    return dataset


def _folder_checksum(dataset_file: Path) -> str:
    """A shapefile's checksum covers its sidecars too (a new .dbf is a new source)."""
    if dataset_file.suffix.lower() != ".shp":
        return sha256_of(dataset_file)
    digest = hashlib.sha256()
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        part = _sibling(dataset_file, ext)
        if part is not None:
            digest.update(ext.encode())
            digest.update(sha256_of(part).encode())
    return "sha256:" + digest.hexdigest()
