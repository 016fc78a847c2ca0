"""Offline archives of a tileset: MBTiles 1.3 (SQLite) and PMTiles v3 (single file)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer

from iocgis.errors import InvalidInput
from iocgis.tiles.grid import TileAddress

FORMATS = {".mbtiles": "mbtiles", ".pmtiles": "pmtiles"}


def archive_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise InvalidInput(f"cannot tell the archive format of {path.name!r}", where=str(path),
                           hint="name the output *.pmtiles or *.mbtiles") from None


class MBTilesWriter:
    """Tiles gzip-compressed as MBTiles wants them; rows are TMS (y counted from the south)."""

    def __init__(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(
            "CREATE TABLE metadata (name TEXT, value TEXT);"
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
            " tile_data BLOB);"
            "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);")

    def add(self, tile: TileAddress, gzipped: bytes) -> None:
        self.db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                        (tile.z, tile.x, (1 << tile.z) - 1 - tile.y, gzipped))

    def finish(self, meta: dict[str, Any]) -> None:
        rows = {
            "name": meta["name"], "format": "pbf", "type": "overlay", "version": "1.0",
            "description": meta["description"], "attribution": meta.get("attribution", ""),
            "bounds": ",".join(f"{v:.6f}" for v in meta["bounds"]),
            "center": ",".join(str(v) for v in meta["center"]),
            "minzoom": str(meta["minzoom"]), "maxzoom": str(meta["maxzoom"]),
            "json": json.dumps({"vector_layers": meta["vector_layers"]}, ensure_ascii=False),
        }
        self.db.executemany("INSERT INTO metadata VALUES (?, ?)", rows.items())
        self.db.commit()
        self.db.close()


class PMTilesWriter:
    """PMTiles v3 through the ``pmtiles`` package; tiles must arrive in tile-id order, so
    they are buffered per zoom and written sorted."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("wb")
        self.writer = Writer(self.file)
        self.pending: dict[int, bytes] = {}

    def add(self, tile: TileAddress, gzipped: bytes) -> None:
        self.pending[zxy_to_tileid(tile.z, tile.x, tile.y)] = gzipped

    def finish(self, meta: dict[str, Any]) -> None:
        for tile_id in sorted(self.pending):
            self.writer.write_tile(tile_id, self.pending[tile_id])
        west, south, east, north = meta["bounds"]
        lon, lat, zoom = meta["center"]
        header = {
            "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
            "min_zoom": meta["minzoom"], "max_zoom": meta["maxzoom"],
            "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
            "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
            "center_zoom": int(zoom), "center_lon_e7": int(lon * 1e7),
            "center_lat_e7": int(lat * 1e7),
        }
        metadata = {"name": meta["name"], "description": meta["description"],
                    "vector_layers": meta["vector_layers"], "attribution": "iocgis"}
        self.writer.finalize(header, metadata)
        self.file.close()


def writer_for(path: Path) -> MBTilesWriter | PMTilesWriter:
    kind = archive_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return MBTilesWriter(path) if kind == "mbtiles" else PMTilesWriter(path)
