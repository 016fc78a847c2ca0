"""Files for the importer tests, written in the tests themselves (pyogrio, ezdxf, rasterio,
openpyxl), small and deterministic."""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from pyogrio.raw import write
from viparse.normalize.encodings import get_charmap

BIEN_HOA = (106.82432, 10.94469)
BIEN_HOA_5899 = (398626.907, 1210495.416)  # the official transformation (shared/data/README)


def write_vector(path: Path, geoms: Sequence[Any], fields: dict[str, Sequence[Any]], *,
                 crs: str | None = "EPSG:4326", driver: str | None = None,
                 geometry_type: str | None = None, encoding: str | None = None,
                 layer: str | None = None) -> Path:
    geoms = np.array(list(geoms), dtype=object)
    if geometry_type is None:
        kinds = {g.geom_type for g in geoms if g is not None}
        geometry_type = kinds.pop() if len(kinds) == 1 else "Unknown"
    data = []
    for values in fields.values():
        sample = next((v for v in values if v is not None), "")
        if isinstance(sample, bool):
            data.append(np.array(values, dtype=bool))
        elif isinstance(sample, int):
            data.append(np.array(values, dtype=np.int64))
        elif isinstance(sample, float):
            data.append(np.array(values, dtype=np.float64))
        else:
            data.append(np.array(values, dtype=object))
    wkb = np.array([None if g is None else shapely.to_wkb(g) for g in geoms], dtype=object)
    kwargs: dict[str, Any] = {}
    if encoding:
        kwargs["encoding"] = encoding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no CRS on purpose in some tests
        write(str(path), wkb, geometry_type=geometry_type, field_data=data,
              fields=list(fields), crs=crs, driver=driver, layer=layer, **kwargs)
    return path


def places(n: int = 3, *, offset: float = 0.0) -> tuple[list[Any], dict[str, list[Any]]]:
    """Points around Biên Hòa for base.places."""
    geoms = [shapely.Point(BIEN_HOA[0] + 0.01 * i + offset, BIEN_HOA[1] + 0.01 * i)
             for i in range(n)]
    fields = {"place_id": [f"P{i + 1}" for i in range(n)],
              "name": [f"Khu dân cư số {i + 1}" for i in range(n)],
              "kind": ["khu_dan_cu"] * n,
              "population": [1000 + i for i in range(n)]}
    return geoms, fields


def parcels(n: int = 4, *, start: int = 1, size: float = 0.0002) -> tuple[list[Any], dict[str, list[Any]]]:
    """Square parcels near Biên Hòa for land.parcels."""
    geoms = []
    for i in range(n):
        x, y = BIEN_HOA[0] + i * size * 1.5, BIEN_HOA[1]
        geoms.append(shapely.box(x, y, x + size, y + size))
    fields = {"commune_code": ["26041"] * n, "sheet_no": [1] * n,
              "parcel_no": list(range(start, start + n)), "land_use": ["ODT"] * n,
              "area_m2": [480.5] * n, "holder_name": ["Nguyễn Văn Ánh"] * n}
    return geoms, fields


def zip_files(target: Path, files: Sequence[Path], arcdir: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for f in files:
            zf.write(f, f"{arcdir}{f.name}")
    return target


def shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.glob(shp.stem + ".*"))


def to_legacy(text: str, encoding: str) -> bytes:
    """Unicode Vietnamese -> the bytes a TCVN3/VNI font file would hold."""
    charmap = get_charmap(encoding)
    assert charmap is not None
    inverse = {uni: legacy for legacy, uni in charmap.pairs}
    import unicodedata

    out = "".join(inverse.get(ch, ch) for ch in unicodedata.normalize("NFC", text))
    return out.encode("latin-1")


def to_cp1258(text: str) -> bytes:
    """Windows-1258 keeps the tone as a combining mark after a precomposed vowel."""
    import unicodedata

    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", parts[:-1])
            out.append((base + parts[-1]).encode("cp1258"))
    return b"".join(out)


def list_layers(path: Path) -> list[str]:
    return [str(r[0]) for r in pyogrio.list_layers(path)]
