"""Pre-July-2025 administrative units to the current ones (34 provinces, 3,321 communes).

The official conversion table is the one the PyPI package ``vietnamadminunits`` ships
(``data/converter_2025.json`` beside ``data/dataset.db``, the tables its ``convert_address``
reads): every old commune (xã, phường, thị trấn, keyed province_district_commune) maps either
to one current commune (merged or renamed: its successor) or to several (split). This module
reads that table directly instead of calling ``convert_address``, because for a split commune
``convert_address`` silently picks a default successor, or geocodes the street online; a
split commune must instead be refused with its candidates, and nothing here may go online.
The package's own parser (``parse_address``, legacy mode) reads old names and addresses.

Old codes are read by their length: 2 digits a province, 3 a district, 4-5 a commune (a DBF
number column drops the leading zero of 0xxxx codes). A district maps to its province (there
are no districts since 1 July 2025), except the island districts without communes, which are
special zones (đặc khu) now.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from iocgis.errors import ConfigError, InvalidInput

Level = Literal["province", "district", "commune"]
Status = Literal["converted", "split", "province", "unknown"]
EDITIONS = ("pre2025",)
CODE_RE = re.compile(r"^\d{1,5}$")


@dataclass(frozen=True)
class Unit:
    """A current commune, or (candidates of a split) one of them."""

    code: str
    name: str
    province_code: str
    province: str
    default: bool = False  # the package's default successor of a split commune

    def label(self) -> str:
        return f"{self.code} {self.name}"


@dataclass(frozen=True)
class OldUnit:
    level: Level
    code: str | None
    name: str  # "Xã Xuân Tâm, Huyện Xuân Lộc, Tỉnh Đồng Nai"

    def label(self) -> str:
        return f"{self.code} {self.name}" if self.code else self.name


@dataclass(frozen=True)
class Conversion:
    """What one old code or name is now."""

    given: str
    status: Status
    old: OldUnit | None = None
    commune: Unit | None = None  # status "converted"
    province_code: str | None = None
    province: str | None = None
    candidates: tuple[Unit, ...] = ()  # status "split"

    def describe(self) -> str:
        old = self.old.label() if self.old else repr(self.given)
        if self.status == "converted" and self.commune:
            return f"{old} -> {self.commune.label()} ({self.province})"
        if self.status == "split":
            names = " or ".join(c.label() + (" (the official default)" if c.default else "")
                                for c in self.candidates)
            return f"{old} was split: {names}"
        if self.status == "province":
            return f"{old} -> province {self.province_code} {self.province} (no commune)"
        return f"{old}: not a pre-2025 unit"

    def as_dict(self) -> dict[str, Any]:
        return {
            "given": self.given, "status": self.status,
            "old": None if self.old is None else {"level": self.old.level, "code": self.old.code,
                                                  "name": self.old.name},
            "commune_code": self.commune.code if self.commune else None,
            "commune": self.commune.name if self.commune else None,
            "province_code": self.province_code, "province": self.province,
            "candidates": [{"code": c.code, "name": c.name, "default": c.default}
                           for c in self.candidates],
        }


@dataclass(frozen=True)
class _Old:
    province_key: str
    district_key: str
    ward_key: str  # "" for a district without communes (the islands)
    code: str | None
    name: str

    @property
    def key(self) -> str:
        return f"{self.province_key}_{self.district_key}_{self.ward_key}"


class Pre2025:
    """The official 63 -> 34 province and old -> new commune table, loaded once."""

    def __init__(self) -> None:
        # found without importing it: the package compiles its address parser on import,
        # which only names need (codes are looked up in these two files alone)
        spec = importlib.util.find_spec("vietnamadminunits")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError("the package vietnamadminunits is not installed",
                              where="importers.admin_units",
                              hint="install the project again (pip install -e .)")
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        converter = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))
        with sqlite3.connect(f"file:{data / 'dataset.db'}?mode=ro", uri=True) as db:
            legacy = db.execute(
                "SELECT provinceKey, districtKey, coalesce(wardKey, ''), wardCode, districtCode, "
                "provinceCode, ward, district, province FROM admin_units_legacy").fetchall()
            current = db.execute("SELECT provinceKey, wardKey, wardCode, ward, provinceCode, "
                                 "province FROM admin_units").fetchall()
        self._units = {(pk, wk): Unit(code, name, pcode, prov)
                       for pk, wk, code, name, pcode, prov in current}
        self._provinces = {pk: (pcode, prov) for pk, _, _, _, pcode, prov in current}
        self._new_province = {old: new for new, olds in converter["DICT_PROVINCE"].items()
                              for old in olds}
        self._merged = {old: (pk, wk) for pk, wards in
                        converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items()
                        for wk, olds in wards.items() for old in olds}
        self._split = {old: tuple((pk, w["newWardKey"], bool(w["isDefaultNewWard"]))
                                  for w in successors)
                       for pk, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items()
                       for old, successors in olds.items()}
        self._communes: dict[str, _Old] = {}
        self._by_key: dict[str, _Old] = {}
        self._districts: dict[str, _Old] = {}
        self._old_provinces: dict[str, tuple[str, str]] = {}
        for pk, dk, wk, wcode, dcode, pcode, ward, district, province in legacy:
            name = ", ".join(p for p in (ward, district, province) if p)
            old = _Old(pk, dk, wk, wcode, name)
            self._by_key[old.key] = old
            if wcode:
                self._communes[wcode] = old
            if dcode not in self._districts or not wk:
                self._districts[dcode] = _Old(pk, dk, wk, dcode, f"{district}, {province}")
            self._old_provinces[pcode] = (pk, province)
        self._cache: dict[tuple[str, str], Conversion] = {}

    # -- one value -----------------------------------------------------------------------
    def convert(self, value: str, level: str = "auto") -> Conversion:
        """An old code (by its length, or ``level``) or an old name/address."""
        text = " ".join(str(value).split())
        cached = self._cache.get((text, level))
        if cached is None:
            cached = self._convert(text, level)
            if len(self._cache) < 100_000:
                self._cache[(text, level)] = cached
        return cached

    def _convert(self, text: str, level: str) -> Conversion:
        if CODE_RE.match(text):
            return self._by_code(text, level)
        if not text:
            return Conversion(text, "unknown")
        return self._by_name(text)

    def _by_code(self, code: str, level: str) -> Conversion:
        if level == "auto":
            level = {1: "province", 2: "province", 3: "district"}.get(len(code), "commune")
        if level == "province":
            found = self._old_provinces.get(code.zfill(2))
            if found is None:
                return Conversion(code, "unknown")
            return self._province(code, found[0], OldUnit("province", code.zfill(2), found[1]))
        if level == "district":
            old = self._districts.get(code.zfill(3))
            if old is None:
                return Conversion(code, "unknown")
            if not old.ward_key and old.key in self._merged:  # an island district, now a zone
                return self._commune(code, old, "district")
            return self._province(code, old.province_key, OldUnit("district", old.code, old.name))
        old = self._communes.get(code.zfill(5))
        return Conversion(code, "unknown") if old is None else self._commune(code, old, "commune")

    def _by_name(self, text: str) -> Conversion:
        from vietnamadminunits import ParseMode, parse_address

        parsed = parse_address(text, mode=ParseMode.LEGACY, keep_street=False, level=3)
        if not parsed.province_key:
            return Conversion(text, "unknown")
        key = f"{parsed.province_key}_{parsed.district_key}_{parsed.ward_key or ''}"
        old = self._by_key.get(key) if parsed.district_key else None
        if old is not None and (parsed.ward_key or key in self._merged):
            return self._commune(text, old, "commune" if parsed.ward_key else "district")
        if parsed.district_key:
            name = ", ".join(p for p in (parsed.district, parsed.province) if p)
            return self._province(text, parsed.province_key,
                                  OldUnit("district", parsed.district_code, name))
        return self._province(text, parsed.province_key,
                              OldUnit("province", parsed.province_code, parsed.province))

    # -- results -------------------------------------------------------------------------
    def _province(self, given: str, old_province_key: str, old: OldUnit) -> Conversion:
        new_key = self._new_province.get(old_province_key)
        if new_key is None or new_key not in self._provinces:
            return Conversion(given, "unknown", old)
        code, name = self._provinces[new_key]
        return Conversion(given, "province", old, province_code=code, province=name)

    def _commune(self, given: str, old: _Old, level: Level) -> Conversion:
        described = OldUnit(level, old.code, old.name)
        if old.key in self._merged:
            unit = self._units[self._merged[old.key]]
            return Conversion(given, "converted", described, unit, unit.province_code,
                              unit.province)
        successors = self._split.get(old.key)
        if successors:
            candidates = tuple(
                Unit(u.code, u.name, u.province_code, u.province, default)
                for u, default in ((self._units[(pk, wk)], d) for pk, wk, d in successors))
            first = candidates[0]
            return Conversion(given, "split", described, province_code=first.province_code,
                              province=first.province, candidates=candidates)
        return Conversion(given, "unknown", described)


@lru_cache(maxsize=1)
def table(edition: str = "pre2025") -> Pre2025:
    """The conversion table of an edition (only ``pre2025``: before 1 July 2025)."""
    if edition not in EDITIONS:
        raise InvalidInput(f"unknown administrative-unit edition {edition!r}", where="as",
                           hint=f"use one of: {', '.join(EDITIONS)}")
    return Pre2025()


# -- a batch of an import ------------------------------------------------------------------
SCHEME = "the current unit of a pre-2025 code or name (vietnamadminunits' official table)"
LISTED = 500  # distinct conversions listed in the report


def source_text(sources: tuple[str, ...], columns: dict[str, pa.Array], n: int) -> pa.Array:
    """The old unit of each row as text: one column, or several joined into an address."""
    from iocgis.importers.fields import _as_text

    parts = []
    for name in sources:
        column = columns[name]
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        text = pc.utf8_trim_whitespace(_as_text(column))
        parts.append(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text))
    if len(parts) == 1:
        return parts[0]
    joined = pc.binary_join_element_wise(*parts, ", ", null_handling="skip")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def convert_batch(converted: dict[str, tuple[Any, str]], columns: dict[str, pa.Array],
                  fids: np.ndarray, report: Any) -> tuple[dict[str, pa.Array], np.ndarray,
                                                          np.ndarray]:
    """The registry fields an ``admin_units`` mapping fills, for one batch: their values, the
    rows refused (split or unknown units) and the rows converted; findings noted."""
    n = len(fids)
    values: dict[str, pa.Array] = {}
    rejected = np.zeros(n, dtype=bool)
    fixed = np.zeros(n, dtype=bool)
    specs = list(dict.fromkeys(spec for spec, _ in converted.values()))
    for spec in specs:
        targets = {t: level for t, (s, level) in converted.items() if s is spec}
        text = source_text(spec.sources, columns, n)
        uniques = pc.unique(text.drop_null())
        found = [table(spec.edition).convert(v, spec.level) for v in uniques.to_pylist()]
        index = pc.index_in(text, value_set=uniques)
        status = np.asarray(pa.array([c.status for c in found], pa.string()).take(index)
                            .fill_null("").to_numpy(zero_copy_only=False))
        for target, level in targets.items():
            codes = [(c.commune.code if c.commune else None) if level == "commune"
                     else c.province_code for c in found]
            values[target] = pa.array(codes, pa.string()).take(index)
        commune_target = next((t for t, level in targets.items() if level == "commune"), None)
        shown = commune_target or next(iter(targets))
        listed = report.extra.setdefault("admin_units", {})
        for conversion in found:
            if len(listed) < LISTED:
                listed[conversion.given] = conversion.describe()
        first = {s: next((c for c in found if c.status == s), None)
                 for s in ("converted", "split", "unknown", "province")}
        converted_msg = (f"{spec.label}: pre-2025 unit converted to the current one "
                         f"({', '.join(targets)})")
        split_msg = (f"{spec.label}: the pre-2025 commune was split between several current "
                     f"communes, so {shown} is not known; give the current commune in the "
                     "source")
        unknown_msg = f"{spec.label}: not a pre-2025 administrative unit's code or name"
        rules = [("converted", "admin_units.converted", "fix", converted_msg),
                 ("split", "admin_units.split", "reject", split_msg),
                 ("unknown", "admin_units.unknown", "reject", unknown_msg)]
        if commune_target:
            no_commune_msg = (f"{spec.label}: a pre-2025 province or district, not a commune: "
                              f"{commune_target} stays empty")
            rules.append(("province", "admin_units.no_commune", "warn", no_commune_msg))
        for state, rule, severity, message in rules:
            mask = status == state
            if not mask.any():
                continue
            sample = first[state]
            example = sample.describe() if sample else None
            report.note(rule, severity, "đúng", message, fids[mask], shown, example=example)
            if severity == "reject":
                rejected |= mask
            if state == "converted":
                fixed |= mask
        for target in targets:
            filled = int(pc.sum(pc.is_valid(values[target])).as_py() or 0)
            report.derived(target, "admin_units", SCHEME, filled, n - filled, source=spec.label,
                           edition=spec.edition)
    return values, rejected, fixed
