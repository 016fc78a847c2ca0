"""PostgreSQL's binary COPY format, encoded a whole batch at a time with pyarrow kernels.

Each row is ``int16 field count`` then, per field, ``int32 length`` and the value's binary
form (or length -1 for NULL). Building every column's cells as an Arrow binary array and
joining them element-wise costs a few kernel passes per batch instead of one Python call
per row, which is what lets the importer outrun ogr2ogr.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
NULL_CELL = b"\xff\xff\xff\xff"
PG_EPOCH = date(2000, 1, 1)
PG_EPOCH_DAYS = (PG_EPOCH - date(1970, 1, 1)).days
PG_EPOCH_MICROS = PG_EPOCH_DAYS * 86_400 * 1_000_000
# PostgreSQL type name -> (numpy big-endian dtype, width) of the fixed-width types.
FIXED = {"int2": (">i2", 2), "int4": (">i4", 4), "int8": (">i8", 8), "float8": (">f8", 8),
         "bool": ("u1", 1), "date": (">i4", 4), "timestamptz": (">i8", 8)}


def _fixed_cells(values: np.ndarray, dtype: str, width: int, nulls: np.ndarray | None) -> pa.Array:
    n = len(values)
    cells = np.empty((n, 4 + width), dtype=np.uint8)
    cells[:, :4] = np.frombuffer(np.array([width], dtype=">i4").tobytes(), dtype=np.uint8)
    cells[:, 4:] = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(n, width)
    array = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 + width), n,
                                                 [None, pa.py_buffer(cells)]).cast(pa.binary())
    if nulls is not None and nulls.any():
        array = pc.if_else(pa.array(nulls), pa.scalar(NULL_CELL, pa.binary()), array)
    return array


def _numpy(values: pa.Array, pgtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The column as numpy in the wire's units, nulls filled with 0, and the null mask."""
    nulls = np.asarray(values.is_null().to_numpy(zero_copy_only=False), bool) \
        if values.null_count else None
    if pgtype == "date":
        raw = values.cast(pa.date32()).cast(pa.int32())
        filled = pc.fill_null(raw, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return filled - PG_EPOCH_DAYS, nulls
    if pgtype == "timestamptz":
        raw = values.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return pc.fill_null(raw, 0).to_numpy(zero_copy_only=False) - PG_EPOCH_MICROS, nulls
    if pgtype == "bool":
        return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), np.uint8), nulls
    if pgtype == "float8":
        return pc.fill_null(values.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False), nulls
    return pc.fill_null(values.cast(pa.int64()), 0).to_numpy(zero_copy_only=False), nulls


def _variable_cells(payload: pa.Array, prefix: bytes = b"") -> pa.Array:
    """Cells of variable-width values (text, jsonb, bytea/EWKB); ``prefix`` goes before the
    value inside the cell (jsonb's version byte)."""
    payload = payload.cast(pa.binary())
    if prefix:
        payload = pc.binary_join_element_wise(pa.scalar(prefix, pa.binary()), payload, b"")
    lengths = pc.fill_null(pc.binary_length(payload), 0).to_numpy(zero_copy_only=False)
    n = len(payload)
    heads = np.ascontiguousarray(lengths.astype(">i4")).view(np.uint8).reshape(n, 4)
    head = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4), n, [None, pa.py_buffer(heads)])
    cells = pc.binary_join_element_wise(head.cast(pa.binary()), payload, b"")
    return pc.fill_null(cells, pa.scalar(NULL_CELL, pa.binary()))


EWKB_SRID_FLAG = 0x20000000


def plain_2d(wkb: pa.Array) -> np.ndarray:
    """Rows holding little-endian 2D WKB of the seven simple types (what GEOS writes for a
    2D geometry, and the form ``ewkb`` takes); Z, M, curves or big-endian are not."""
    wkb = wkb.cast(pa.binary())
    n = len(wkb)
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32, count=n + 1,
                            offset=wkb.offset * 4)
    out = np.asarray(wkb.is_valid().to_numpy(zero_copy_only=False), bool) \
        & (offsets[1:] - offsets[:-1] >= 5)
    if out.any():
        data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)
        at = offsets[:-1][out][:, None] + np.arange(5)
        head = data[at]
        types = np.ascontiguousarray(head[:, 1:]).view("<u4").reshape(-1)
        out[out] = (head[:, 0] == 1) & (types >= 1) & (types <= 7)
    return out


def ewkb(wkb: pa.Array, srid: int) -> pa.Array:
    """Little-endian 2D WKB (shapely's ``to_wkb(byte_order=1)``) as EWKB with ``srid``: the
    type word gets the SRID flag and the SRID follows it. Done on the batch's buffers, so no
    geometry is copied to carry its SRID (``shapely.set_srid`` clones each one)."""
    wkb = wkb.cast(pa.binary())
    n = len(wkb)
    if n == 0:
        return wkb
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32, count=n + 1,
                            offset=wkb.offset * 4)
    present = np.asarray(wkb.is_valid().to_numpy(zero_copy_only=False), bool) \
        & (offsets[1:] - offsets[:-1] >= 5)
    if not present.any():
        return pa.nulls(n, pa.binary())
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8)
    if (data[offsets[:-1][present]] != 1).any():
        raise ValueError("ewkb expects little-endian WKB")
    # the type word (bytes 1-4) of each present row (absent rows read the first one's)
    first = offsets[:-1][present][0]
    at = np.where(present, offsets[:-1], first)[:, None] + np.arange(1, 5)
    words = data[at]
    types = np.ascontiguousarray(words).view("<u4").reshape(n) | EWKB_SRID_FLAG
    head = np.empty((n, 8), dtype=np.uint8)
    head[:, :4] = types.astype("<u4").view(np.uint8).reshape(n, 4)
    head[:, 4:] = np.frombuffer(np.array([srid], dtype="<u4").tobytes(), dtype=np.uint8)
    middle = pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), n, [None, pa.py_buffer(head)]
                                                  ).cast(pa.binary())
    # (binary_slice fails on null or short cells: they hold a placeholder until the end)
    full = pc.if_else(pa.array(present), wkb, pa.scalar(b"\x01" * 5, pa.binary()))
    out = pc.binary_join_element_wise(pc.binary_slice(full, 0, 1), middle,
                                      pc.binary_slice(full, 5, 2**31 - 1), b"")  # stop: start alone fails
    return pc.if_else(pa.array(present), out, pa.scalar(None, pa.binary()))


def cells(values: pa.Array, pgtype: str) -> pa.Array:
    """One column of a batch as binary COPY cells."""
    if pgtype in FIXED:
        dtype, width = FIXED[pgtype]
        numbers, nulls = _numpy(values, pgtype)
        return _fixed_cells(numbers, dtype, width, nulls)
    if pgtype == "jsonb":
        return _variable_cells(values.cast(pa.string()), prefix=b"\x01")
    if pgtype in ("text", "bytea"):
        return _variable_cells(values)
    raise ValueError(f"no binary COPY encoding for {pgtype}")


def encode(columns: list[tuple[pa.Array, str]]) -> pa.Buffer:
    """The batch's rows in binary COPY format (without the stream's signature and trailer)."""
    n = len(columns[0][0])
    count = np.frombuffer(np.array([len(columns)], dtype=">i2").tobytes(), dtype=np.uint8)
    header = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(2), n, [None, pa.py_buffer(np.tile(count, n))]).cast(pa.binary())
    rows = pc.binary_join_element_wise(header, *(cells(v, t) for v, t in columns), b"")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=n + 1,
                            offset=rows.offset * 4)
    return rows.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
