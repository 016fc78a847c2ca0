"""``iocgis admin convert`` for a file: the pre-2025 units in some of its fields, read through
the importers' own readers (any format they read, any legacy encoding), converted to the
current ones, per distinct value and per row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from iocgis.errors import InvalidInput
from iocgis.importers import admin_units
from iocgis.importers.mapping import Mapping
from iocgis.importers.options import ImportOptions
from iocgis.importers.sources import resolve
from iocgis.layers import LayerDef
from iocgis.layers.model import Text

# Readers are made for a registry layer: this one has no fields and no geometry, so every
# source column is read as it is (coordinates too) and nothing is checked against a schema.
_ANY_TABLE = LayerDef(
    group="admin", name="conversion", title=Text(vi="Chuyển đổi đơn vị hành chính",
                                                 en="Administrative unit conversion"),
    description=Text(vi="Đọc tệp để chuyển đổi", en="A file read for conversion"),
    geometry=None, fields=(), sensitivity="public", cadence=timedelta(days=365), style="admin")


@dataclass
class FileConversion:
    """Per distinct value its conversion and how many rows hold it; per row its conversion."""

    path: str
    fields: tuple[str, ...]
    rows: list[tuple[int, admin_units.Conversion | None]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    distinct: dict[str, admin_units.Conversion] = field(default_factory=dict)

    def by_status(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for value, conversion in self.distinct.items():
            out[conversion.status] += self.counts[value]
        return out


def convert_file(path: str | Path, fields: list[str], *, level: str = "auto",
                 encoding: str | None = None, source_layer: str | None = None,
                 edition: str = "pre2025") -> FileConversion:
    """The old units in ``fields`` (several: joined into an address) of every row of PATH."""
    from iocgis.importers.pipeline import open_reader

    table = admin_units.table(edition)
    options = ImportOptions(encoding=encoding, source_layer=source_layer)
    dataset = resolve(path)
    try:
        reader = open_reader(dataset, options, _ANY_TABLE, Mapping())
        missing = [f for f in fields if f not in reader.info.fields]
        if missing:
            raise InvalidInput(f"{dataset.name} has no field {', '.join(missing)}",
                               where=dataset.name,
                               hint=f"its fields: {', '.join(reader.info.fields[:30])}")
        result = FileConversion(str(path), tuple(fields))
        for batch in reader.batches():
            text = admin_units.source_text(tuple(fields), batch.columns, len(batch))
            for fid, value in zip(batch.fids.tolist(), text.to_pylist(), strict=True):
                if value is None:
                    result.rows.append((int(fid), None))
                    continue
                conversion = table.convert(value, level)
                result.distinct.setdefault(value, conversion)
                result.counts[value] += 1
                result.rows.append((int(fid), conversion))
        return result
    finally:
        dataset.cleanup()
