"""The demo's scales: how much of each bulk layer to generate."""

from __future__ import annotations

from dataclasses import dataclass

from iocgis.errors import InvalidInput


@dataclass(frozen=True)
class Scale:
    """Sizes of one demo build; the reference layers (admin, base map, planning) never change."""

    name: str
    parcels: int
    # Communes that get parcels and houses; None means all 95.
    parcel_communes: tuple[str, ...] | None
    trees: int
    citizen_reports: int
    incidents: int
    ponds: int
    observation_days: int
    # Parcels written per chunk: bounds memory for the big scales.
    chunk_parcels: int = 60_000


SCALES: dict[str, Scale] = {
    # Seconds: tests and the README's first command. Two wards of Biên Hòa, the Đồng Xoài ward
    # and the rural commune of Trảng Bom.
    "small": Scale(
        "small",
        parcels=3_000,
        parcel_communes=("26041", "26017", "25210", "26248"),
        trees=600,
        citizen_reports=300,
        incidents=120,
        ponds=40,
        observation_days=3,
    ),
    # Benchmarks: about 1,000,000 parcels and 500,000 houses.
    "province": Scale(
        "province",
        parcels=1_000_000,
        parcel_communes=None,
        trees=60_000,
        citizen_reports=20_000,
        incidents=3_000,
        ponds=600,
        observation_days=30,
    ),
    "large": Scale(
        "large",
        parcels=5_000_000,
        parcel_communes=None,
        trees=250_000,
        citizen_reports=100_000,
        incidents=12_000,
        ponds=2_000,
        observation_days=90,
    ),
}


def get_scale(name: str) -> Scale:
    try:
        return SCALES[name]
    except KeyError:
        raise InvalidInput(
            f"unknown demo scale {name!r}", where="--scale", hint=f"use one of: {', '.join(SCALES)}"
        ) from None
