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

from iocgis.importers.report import Dimension, ImportReport
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


def _whole_numbers(text: pa.Array) -> pa.Array:
    ok = pc.match_substring_regex(text, _INT_RE)
    return pc.cast(pc.if_else(ok, pc.replace_substring_regex(text, r"\.0*$", ""),
                              pa.scalar(None, pa.string())), pa.int64())


def _numbers(text: pa.Array) -> pa.Array:
    ok = pc.match_substring_regex(text, _NUM_RE)
    return pc.cast(pc.if_else(ok, pc.replace_substring(text, ",", "."),
                              pa.scalar(None, pa.string())), pa.float64())


def _booleans(text: pa.Array) -> pa.Array:
    lower = pc.utf8_lower(text)
    is_true = _mask(pc.is_in(lower, value_set=pa.array(_TRUE)))
    ok = is_true | _mask(pc.is_in(lower, value_set=pa.array(_FALSE)))
    return pa.array(np.where(ok, is_true, False), mask=~ok, type=pa.bool_())


def _dates(text: pa.Array) -> pa.Array:
    out = pa.nulls(len(text), pa.timestamp("us"))
    for fmt in _DATE_FORMATS:
        out = pc.coalesce(out, pc.strptime(text, format=fmt, unit="us", error_is_null=True))
    return out.cast(pa.date32())


def _timestamps(text: pa.Array) -> pa.Array:
    utc = pa.timestamp("us", tz="UTC")
    out = pa.nulls(len(text), utc)
    for fmt in _TS_FORMATS:
        parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
        if parsed.type.tz is None:  # local times in Vietnam unless the text says otherwise
            parsed = pc.assume_timezone(parsed, "Asia/Ho_Chi_Minh")
        out = pc.coalesce(out, parsed.cast(utc))
    return out


_PARSERS = {"integer": _whole_numbers, "bigint": _whole_numbers, "numeric": _numbers,
            "boolean": _booleans, "date": _dates, "timestamptz": _timestamps}


def _parse(text: pa.Array, ftype: str) -> tuple[pa.Array, np.ndarray]:
    """Text -> the field's type; returns values and the rows that could not be read (a value
    was there, and it is null once parsed)."""
    values = _PARSERS[ftype](text)
    return values, ~_mask(pc.is_null(text)) & _mask(pc.is_null(values))


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


@dataclass
class _Values:
    """One field of one batch on its way through the checks."""

    field: FieldDef
    typed: pa.Array
    fids: np.ndarray
    report: ImportReport
    where: str  # the field, and the source field it came from
    rejected: np.ndarray
    fixed: np.ndarray

    @property
    def present(self) -> np.ndarray:
        return ~_mask(pc.is_null(self.typed))

    def example(self, mask: np.ndarray) -> str:
        return repr(self.typed.filter(pa.array(mask))[0].as_py())

    def reject(self, mask: np.ndarray, rule: str, dimension: Dimension, message: str,
               example: str | None = None) -> None:
        if mask.any():
            self.report.note(rule, "reject", dimension, f"{self.where}: {message}",
                             self.fids[mask], self.field.name, example=example)
            self.rejected |= mask

    def fix(self, mask: np.ndarray, rule: str, dimension: Dimension, message: str) -> None:
        if mask.any():
            self.report.note(rule, "fix", dimension, message, self.fids[mask], self.field.name)
            self.fixed |= mask


def _source(values: pa.Array | None, n: int, ftype: str) -> pa.Array:
    """The source column as one plain array (nulls when the file has no such field)."""
    if values is None:
        return pa.nulls(n, TARGET_TYPES[ftype])
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values


def _typed(rows: _Values, values: pa.Array) -> None:
    """đúng: the values in the field's type; text cleaned (whitespace, NFC)."""
    field = rows.field
    typed = _direct(values, field.type)
    if typed is not None:
        rows.typed = typed
        return
    text, changed = _clean_text(_as_text(values))
    if field.type == "text":
        rows.typed = text
        rows.fix(changed, "text.normalised", "sạch",
                 "whitespace trimmed or text normalised to Unicode NFC")
        return
    rows.typed, bad = _parse(text, field.type)
    if bad.any():
        rows.reject(bad, "field.type", "đúng", f"value is not a valid {field.type}",
                    example=repr(text.filter(pa.array(bad))[0].as_py()))


def _required(rows: _Values, refused: np.ndarray | None) -> None:
    """đủ: a required field has a value (rows refused for it already are not counted again)."""
    if rows.field.required:
        missing = ~rows.present & ~rows.rejected & (~refused if refused is not None else True)
        rows.reject(missing, "field.required", "đủ", "required value is missing")


def _short_enough(rows: _Values) -> None:
    """sạch: text within the field's max_length (or the general limit)."""
    limit = rows.field.max_length or MAX_TEXT_LENGTH
    too_long = _mask(pc.greater(pc.utf8_length(rows.typed), limit))
    if too_long.any():
        longest = int(pc.max(pc.utf8_length(rows.typed.filter(pa.array(too_long)))).as_py())
        rows.reject(too_long, "field.too_long", "sạch",
                    f"text longer than {limit} characters (up to {longest})")


def _in_code_list(rows: _Values, codes: tuple[str, ...]) -> None:
    """đúng: a code of the field's list; a code written in lower case is fixed."""
    present = rows.present
    inside = _mask(pc.is_in(rows.typed, value_set=pa.array(codes)))
    upper = pc.utf8_upper(rows.typed)
    case_fix = present & ~inside & _mask(pc.is_in(upper, value_set=pa.array(codes)))
    if case_fix.any():
        rows.typed = pc.if_else(pa.array(case_fix), upper, rows.typed)
        rows.fix(case_fix, "code.case", "đúng", f"{rows.where}: code written in lower case")
        inside |= case_fix
    outside = present & ~inside
    if outside.any():
        rows.reject(outside, "code.domain", "đúng", "code not in the field's code list",
                    example=rows.example(outside))


def _matches_pattern(rows: _Values) -> None:
    pattern = rows.field.pattern
    if pattern:
        miss = rows.present & ~_mask(pc.match_substring_regex(rows.typed, pattern))
        if miss.any():
            rows.reject(miss, "field.pattern", "đúng", f"value does not match {pattern}",
                        example=rows.example(miss))


def _in_range(rows: _Values) -> None:
    """đúng: numbers within the field's min/max (an integer within 32 bits)."""
    field = rows.field
    numbers = rows.typed.cast(pa.float64())
    out = np.zeros(len(rows.fids), dtype=bool)
    low = field.min if field.min is not None else (INT32[0] if field.type == "integer" else None)
    high = field.max if field.max is not None else (INT32[1] if field.type == "integer" else None)
    if low is not None:
        out |= _mask(pc.less(numbers, low))
    if high is not None:
        out |= _mask(pc.greater(numbers, high))
    out &= ~rows.rejected
    if out.any():
        rows.reject(out, "field.range", "đúng", f"value outside [{low}, {high}]",
                    example=rows.example(out))


def coerce(field: FieldDef, values: pa.Array | None, n: int, codes: tuple[str, ...] | None,
           fids: np.ndarray, report: ImportReport, source_name: str | None,
           refused: np.ndarray | None = None) -> FieldResult:
    """One registry field for one batch: typed values plus rejected/fixed rows, findings noted.
    ``refused``: rows already rejected for this field's value (not reported missing again)."""
    where = f"{field.name}" + (f" (source field {source_name})" if source_name and
                               source_name != field.name else "")
    source = _source(values, n, field.type)
    rows = _Values(field, source, fids, report, where, np.zeros(n, dtype=bool),
                   np.zeros(n, dtype=bool))
    _typed(rows, source)
    _required(rows, refused)
    if field.type == "text":
        _short_enough(rows)
        if codes is not None:
            _in_code_list(rows, codes)
        _matches_pattern(rows)
    if field.is_numeric:
        _in_range(rows)
    return FieldResult(rows.typed.cast(TARGET_TYPES[field.type]), rows.rejected, rows.fixed)
