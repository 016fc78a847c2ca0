"""Indicators with targets and their values per commune (and the province) and period."""

from __future__ import annotations

import numpy as np

from iocgis.demo import reference
from iocgis.demo.context import DemoContext
from iocgis.demo.table import FeatureTable

# (code, name vi, name en, sector, unit, target, direction, levels, typical spread)
INDICATORS = [
    (
        "GRDP_GROWTH",
        "Tốc độ tăng trưởng GRDP",
        "GRDP growth rate",
        "kinh_te_xa_hoi",
        "%",
        10.0,
        "higher_better",
        "province",
        0.15,
    ),
    (
        "POOR_RATE",
        "Tỷ lệ hộ nghèo đa chiều",
        "Multidimensional poverty rate",
        "an_sinh",
        "%",
        0.5,
        "lower_better",
        "both",
        0.6,
    ),
    (
        "NEAR_POOR_RATE",
        "Tỷ lệ hộ cận nghèo",
        "Near-poor household rate",
        "an_sinh",
        "%",
        1.0,
        "lower_better",
        "both",
        0.5,
    ),
    (
        "HEALTH_INSURANCE",
        "Tỷ lệ dân số tham gia bảo hiểm y tế",
        "Health insurance coverage",
        "y_te",
        "%",
        95.0,
        "higher_better",
        "both",
        0.03,
    ),
    (
        "DOCTORS_10K",
        "Số bác sĩ trên 10.000 dân",
        "Doctors per 10,000 people",
        "y_te",
        "bác sĩ",
        12.0,
        "higher_better",
        "province",
        0.12,
    ),
    (
        "BEDS_10K",
        "Số giường bệnh trên 10.000 dân",
        "Hospital beds per 10,000 people",
        "y_te",
        "giường",
        32.0,
        "higher_better",
        "province",
        0.1,
    ),
    (
        "SCHOOL_STANDARD",
        "Tỷ lệ trường đạt chuẩn quốc gia",
        "Schools meeting national standards",
        "giao_duc",
        "%",
        75.0,
        "higher_better",
        "both",
        0.15,
    ),
    (
        "RURAL_ROAD",
        "Tỷ lệ đường giao thông nông thôn được cứng hóa",
        "Paved rural roads",
        "giao_thong",
        "%",
        100.0,
        "higher_better",
        "both",
        0.06,
    ),
    (
        "TRAFFIC_ACCIDENTS",
        "Số vụ tai nạn giao thông",
        "Traffic accidents",
        "an_ninh",
        "vụ",
        400.0,
        "lower_better",
        "province",
        0.15,
    ),
    (
        "WASTE_COLLECTED",
        "Tỷ lệ chất thải rắn sinh hoạt được thu gom, xử lý",
        "Household solid waste collected and treated",
        "moi_truong",
        "%",
        98.0,
        "higher_better",
        "both",
        0.03,
    ),
    (
        "CLEAN_WATER",
        "Tỷ lệ dân cư sử dụng nước sạch",
        "Population with clean water",
        "xay_dung",
        "%",
        95.0,
        "higher_better",
        "both",
        0.05,
    ),
    (
        "FOREST_COVER",
        "Tỷ lệ che phủ rừng",
        "Forest cover",
        "moi_truong",
        "%",
        30.0,
        "higher_better",
        "province",
        0.08,
    ),
    (
        "LAND_CERT",
        "Tỷ lệ cấp giấy chứng nhận quyền sử dụng đất lần đầu",
        "First-time land-use certificates issued",
        "dat_dai",
        "%",
        98.0,
        "higher_better",
        "both",
        0.03,
    ),
    (
        "TOURISTS",
        "Lượt khách du lịch",
        "Tourist arrivals",
        "du_lich",
        "nghìn lượt",
        6500.0,
        "higher_better",
        "province",
        0.12,
    ),
    (
        "ONLINE_SERVICES",
        "Tỷ lệ hồ sơ dịch vụ công trực tuyến toàn trình",
        "Applications handled fully online",
        "kinh_te_xa_hoi",
        "%",
        80.0,
        "higher_better",
        "both",
        0.15,
    ),
    (
        "REPORTS_ON_TIME",
        "Tỷ lệ phản ánh được xử lý đúng hạn",
        "Citizen reports resolved on time",
        "kinh_te_xa_hoi",
        "%",
        95.0,
        "higher_better",
        "both",
        0.05,
    ),
    (
        "FLOOD_POINTS",
        "Số điểm ngập úng đô thị",
        "Urban flooding spots",
        "xay_dung",
        "điểm",
        5.0,
        "lower_better",
        "province",
        0.4,
    ),
]
PERIODS = ("2023", "2024", "2025-Q1", "2025-Q2", "2025-Q3")
PERCENT_UNITS = ("%",)


def _indicators(ctx: DemoContext) -> list[tuple]:
    """The indicators whose sector the registry knows."""
    sectors = set(ctx.codes("kpi.indicators", "sector"))
    return [r for r in INDICATORS if not sectors or r[3] in sectors]


def produce_indicators(ctx: DemoContext) -> FeatureTable:
    rows = _indicators(ctx)
    return ctx.table(
        "kpi.indicators",
        {
            "code": np.array([r[0] for r in rows], dtype=object),
            "name": np.array([r[1] for r in rows], dtype=object),
            "name_en": np.array([r[2] for r in rows], dtype=object),
            "sector": np.array([r[3] for r in rows], dtype=object),
            "unit": np.array([r[4] for r in rows], dtype=object),
            "target": np.array([r[5] for r in rows], float),
            "direction": np.array([r[6] for r in rows], dtype=object),
        },
    )


def produce_values(ctx: DemoContext) -> FeatureTable:
    """Values around the target: most units meet it, a realistic share does not."""
    rng = ctx.rng("kpi.values")
    comm = ctx.communes
    codes, admins, periods, values = [], [], [], []
    for code, _, _, _, unit, target, direction, levels, spread in _indicators(ctx):
        units = [reference.PROVINCE_CODE] + (list(comm.codes) if levels == "both" else [])
        level = rng.normal(
            1.0 + (0.03 if direction == "higher_better" else -0.03), spread / 2, len(units)
        )  # each unit's own standing
        for k, period in enumerate(PERIODS):
            trend = 1 + (k - 2) * 0.01 * (1 if direction == "higher_better" else -1)
            v = target * level * trend * rng.normal(1.0, spread / 4, len(units))
            if unit in PERCENT_UNITS:
                v = np.clip(v, 0, 100)
            v = np.clip(v, 0, None)
            codes.append(np.full(len(units), code, dtype=object))
            admins.append(np.array(units, dtype=object))
            periods.append(np.full(len(units), period, dtype=object))
            values.append(np.round(v, 2))
    return ctx.table(
        "kpi.values",
        {
            "indicator_code": np.concatenate(codes),
            "admin_code": np.concatenate(admins),
            "period": np.concatenate(periods),
            "value": np.concatenate(values),
        },
    )
