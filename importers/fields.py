"""Attribute cleaning and checks against the registry, vectorised with pyarrow compute.

Every registry field is coerced to its type; a value that cannot be read as that type, a
missing required value, a code outside its domain, a pattern or range miss, or an overlong
text rejects the feature (rule severity ``reject``). Whitespace, Unicode form (NFC) and the
case of codes are fixed and counted (``fix``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocgis.importers.report import ImportReport
from iocgis.layers import FieldDef
from iocgis.layers.types import FIELD_TYPES

# Longest text accepted in a field without its own max_length: longer values are almost
# always a broken export (a whole document pasted into a cell), and they break labels/tiles.
MAX_TEXT_LENGTH = 2000

_INT_RE = r"^[+-]?\d+(\.0*)?$"
_NUM_RE = r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$"
_TRUE = ["true", "t", "yes", "y", "1", "có", "co", "x", "đúng", "dung"]
_FALSE = ["false", "f", "no", "n", "0", "không", "khong", "sai"]
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y")
_TS_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
               "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S",
               "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d/%m/%Y")
INT32 = (-(2**31), 2**31 - 1)
COMBINING_MARKS = r"[\x{0300}-\x{036F}]"

TARGET_TYPES: dict[str, pa.DataType] = {name: t.arrow for name, t in FIELD_TYPES.items()}


@dataclass
class FieldResult:
    values: pa.Array
    rejected: np.ndarray  # bool per row
    fixed: np.ndarray  # bool per row


def _mask(array: pa.Array) -> np.ndarray:
    """A boolean pyarrow array (nulls as False) as numpy."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_text(values: pa.Array) -> pa.Array:
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return values.cast(pa.string())
    if pa.types.is_floating(values.type):
        # 26041.0 from a spreadsheet is the code "26041", not "26041.0".
        whole = pc.and_kleene(pc.is_finite(values), pc.equal(values, pc.floor(values)))
        as_int = pc.if_else(whole, pc.cast(pc.if_else(whole, values, 0.0), pa.int64()), None)
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(values, pa.string()))
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_binary(values.type):
        return pc.cast(values, pa.string())
    return pc.cast(values, pa.string())


def _clean_text(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Trim, collapse inner runs of whitespace, NFC; empty becomes null. Returns what changed.
    The costly kernels run only when a cheap scan says they may change something: text
    that is not NFC carries combining marks (U+0300-U+036F) in practice."""
    cleaned = values
    if pc.any(pc.match_substring_regex(cleaned, r"\s\s|^\s|\s$")).as_py():
        cleaned = pc.utf8_trim_whitespace(cleaned)
        cleaned = pc.replace_substring_regex(cleaned, r"\s{2,}", " ")
    if pc.any(pc.match_substring_regex(cleaned, COMBINING_MARKS)).as_py():
        cleaned = pc.utf8_normalize(cleaned, "NFC")
    cleaned = pc.if_else(pc.equal(cleaned, ""), pa.scalar(None, pa.string()), cleaned)
    changed = _mask(pc.not_equal(cleaned, values)) | (
        _mask(pc.is_null(cleaned)) & ~_mask(pc.is_null(values)))
    return cleaned, changed


def _parse(text: pa.Array, ftype: str) -> tuple[pa.Array, np.ndarray]:
    """Text -> the field's type; returns values and the rows that could not be read."""
    present = ~_mask(pc.is_null(text))
    if ftype in ("integer", "bigint"):
        ok = _mask(pc.match_substring_regex(text, _INT_RE))
        clean = pc.replace_substring_regex(text, r"\.0*$", "")
        values = pc.cast(pc.if_else(pa.array(ok), clean, pa.scalar(None, pa.string())), pa.int64())
    elif ftype == "numeric":
        ok = _mask(pc.match_substring_regex(text, _NUM_RE))
        clean = pc.replace_substring(text, ",", ".")
        values = pc.cast(pc.if_else(pa.array(ok), clean, pa.scalar(None, pa.string())),
                         pa.float64())
    elif ftype == "boolean":
        lower = pc.utf8_lower(text)
        is_true = _mask(pc.is_in(lower, value_set=pa.array(_TRUE)))
        is_false = _mask(pc.is_in(lower, value_set=pa.array(_FALSE)))
        ok = is_true | is_false
        values = pa.array(np.where(ok, is_true, False), mask=~ok, type=pa.bool_())
    elif ftype == "date":
        out = pa.nulls(len(text), pa.timestamp("us"))
        for fmt in _DATE_FORMATS:
            out = pc.coalesce(out, pc.strptime(text, format=fmt, unit="us", error_is_null=True))
        values = out.cast(pa.date32())
        ok = ~_mask(pc.is_null(values))
    elif ftype == "timestamptz":
        utc = pa.timestamp("us", tz="UTC")
        out = pa.nulls(len(text), utc)
        for fmt in _TS_FORMATS:
            parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
            if parsed.type.tz is None:  # local times in Vietnam unless the text says otherwise
                parsed = pc.assume_timezone(parsed, "Asia/Ho_Chi_Minh")
            out = pc.coalesce(out, parsed.cast(utc))
        values = out
        ok = ~_mask(pc.is_null(values))
    else:
        raise AssertionError(ftype)
    return values, present & ~ok


def _direct(values: pa.Array, ftype: str) -> pa.Array | None:
    """Typed source values that need no parsing (numbers from a GeoPackage, dates...)."""
    t = values.type
    if ftype in ("integer", "bigint") and pa.types.is_integer(t):
        return values.cast(pa.int64())
    if ftype == "numeric" and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        return pc.if_else(pc.is_nan(values.cast(pa.float64())), None, values.cast(pa.float64()))
    if ftype == "boolean" and pa.types.is_boolean(t):
        return values
    if ftype == "date" and pa.types.is_date(t):
        return values.cast(pa.date32())
    if ftype == "date" and pa.types.is_timestamp(t):
        return values.cast(pa.date32())
    if ftype == "timestamptz" and pa.types.is_timestamp(t):
        if t.tz is None:
            return pc.assume_timezone(values.cast(pa.timestamp("us")), "Asia/Ho_Chi_Minh").cast(
                pa.timestamp("us", tz="UTC"))
        return values.cast(pa.timestamp("us", tz="UTC"))
    return None


def coerce(field: FieldDef, values: pa.Array | None, n: int, codes: tuple[str, ...] | None,
           fids: np.ndarray, report: ImportReport, source_name: str | None,
           refused: np.ndarray | None = None) -> FieldResult:
    """One registry field for one batch: typed values plus rejected/fixed rows, findings noted.
    ``refused``: rows already rejected for this field's value (not reported missing again)."""
    rejected = np.zeros(n, dtype=bool)
    fixed = np.zeros(n, dtype=bool)
    where = f"{field.name}" + (f" (source field {source_name})" if source_name and
                               source_name != field.name else "")
    if values is None:
        values = pa.nulls(n, TARGET_TYPES[field.type])
    elif pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()

    typed = _direct(values, field.type)
    if typed is None:
        text, changed = _clean_text(_as_text(values))
        if field.type == "text":
            typed = text
            fixed |= changed
            if changed.any():
                report.note("text.normalised", "fix", "sạch", "whitespace trimmed or text "
                            "normalised to Unicode NFC", fids[changed], field.name)
        else:
            typed, bad = _parse(text, field.type)
            if bad.any():
                example = text.filter(pa.array(bad))[0].as_py()
                report.note("field.type", "reject", "đúng",
                            f"{where}: value is not a valid {field.type}", fids[bad], field.name,
                            example=repr(example))
                rejected |= bad

    present = ~_mask(pc.is_null(typed))
    if field.required:
        missing = ~present & ~rejected & (~refused if refused is not None else True)
        if missing.any():
            report.note("field.required", "reject", "đủ", f"{where}: required value is missing",
                        fids[missing], field.name)
            rejected |= missing

    if field.type == "text":
        limit = field.max_length or MAX_TEXT_LENGTH
        too_long = _mask(pc.greater(pc.utf8_length(typed), limit))
        if too_long.any():
            longest = int(pc.max(pc.utf8_length(typed.filter(pa.array(too_long)))).as_py())
            report.note("field.too_long", "reject", "sạch",
                        f"{where}: text longer than {limit} characters (up to {longest})",
                        fids[too_long], field.name)
            rejected |= too_long
        if codes is not None:
            inside = _mask(pc.is_in(typed, value_set=pa.array(codes)))
            upper = pc.utf8_upper(typed)
            case_fix = present & ~inside & _mask(pc.is_in(upper, value_set=pa.array(codes)))
            if case_fix.any():
                typed = pc.if_else(pa.array(case_fix), upper, typed)
                fixed |= case_fix
                report.note("code.case", "fix", "đúng", f"{where}: code written in lower case",
                            fids[case_fix], field.name)
                inside |= case_fix
            outside = present & ~inside
            if outside.any():
                example = typed.filter(pa.array(outside))[0].as_py()
                report.note("code.domain", "reject", "đúng",
                            f"{where}: code not in the field's code list", fids[outside],
                            field.name, example=repr(example))
                rejected |= outside
        if field.pattern:
            miss = present & ~_mask(pc.match_substring_regex(typed, field.pattern))
            if miss.any():
                example = typed.filter(pa.array(miss))[0].as_py()
                report.note("field.pattern", "reject", "đúng",
                            f"{where}: value does not match {field.pattern}", fids[miss],
                            field.name, example=repr(example))
                rejected |= miss
    if field.is_numeric:
        numbers = typed.cast(pa.float64())
        out = np.zeros(n, dtype=bool)
        low = field.min if field.min is not None else (INT32[0] if field.type == "integer" else None)
        high = field.max if field.max is not None else (INT32[1] if field.type == "integer" else None)
        if low is not None:
            out |= _mask(pc.less(numbers, low))
        if high is not None:
            out |= _mask(pc.greater(numbers, high))
        out &= ~rejected
        if out.any():
            example = typed.filter(pa.array(out))[0].as_py()
            report.note("field.range", "reject", "đúng",
                        f"{where}: value outside [{low}, {high}]", fids[out], field.name,
                        example=repr(example))
            rejected |= out
    return FieldResult(typed.cast(TARGET_TYPES[field.type]), rejected, fixed)
