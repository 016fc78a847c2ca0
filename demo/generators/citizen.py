"""Citizen reports (the 1022 hotline and app): located, categorised, assigned, with a status."""

from __future__ import annotations

import numpy as np
import shapely

from iocgis.demo.context import DemoContext
from iocgis.demo.names import STREETS
from iocgis.demo.table import FeatureTable, timestamps

CATEGORIES = {
    "ha_tang": 30,
    "moi_truong": 22,
    "trat_tu_do_thi": 20,
    "an_ninh": 8,
    "y_te": 5,
    "giao_duc": 5,
    "khac": 10,
}
TEMPLATES = {
    "ha_tang": [
        "Đèn đường trên đường {street} bị hư hỏng nhiều ngày, đề nghị sửa chữa.",
        "Mặt đường {street} xuất hiện nhiều ổ gà, gây nguy hiểm cho người đi xe máy.",
        "Nắp hố ga trên đường {street} bị vỡ, đề nghị thay thế.",
    ],
    "moi_truong": [
        "Rác thải tập kết sai quy định tại đầu hẻm đường {street}, bốc mùi hôi.",
        "Cơ sở sản xuất gần khu dân cư xả khói bụi vào buổi tối.",
        "Nước thải chảy tràn ra đường {street} sau mỗi trận mưa.",
    ],
    "trat_tu_do_thi": [
        "Lấn chiếm vỉa hè buôn bán trên đường {street}.",
        "Công trình xây dựng không che chắn, vật liệu tràn ra đường {street}.",
        "Đậu xe trái phép gây ùn tắc trước chợ.",
    ],
    "an_ninh": [
        "Nhóm thanh niên tụ tập gây mất trật tự vào ban đêm.",
        "Xe chạy tốc độ cao, lạng lách trên đường {street}.",
    ],
    "y_te": [
        "Phát hiện nhiều lăng quăng, muỗi tại khu dân cư, đề nghị phun thuốc.",
        "Cơ sở kinh doanh thực phẩm không bảo đảm vệ sinh.",
    ],
    "giao_duc": [
        "Khu vực cổng trường thường xuyên ùn tắc giờ tan học.",
        "Đề nghị bố trí thêm phòng học cho trường trong khu vực.",
    ],
    "khac": [
        "Đề nghị hướng dẫn thủ tục cấp đổi giấy chứng nhận quyền sử dụng đất.",
        "Cây xanh trên đường {street} có nguy cơ gãy đổ, đề nghị cắt tỉa.",
    ],
}
UNITS = {
    "ha_tang": "Sở Xây dựng",
    "moi_truong": "Sở Nông nghiệp và Môi trường",
    "trat_tu_do_thi": "UBND {commune}",
    "an_ninh": "Công an {commune}",
    "y_te": "Sở Y tế",
    "giao_duc": "Sở Giáo dục và Đào tạo",
    "khac": "UBND {commune}",
}


def produce_reports(ctx: DemoContext) -> FeatureTable:
    rng = ctx.rng("citizen.reports")
    comm = ctx.communes
    n = ctx.scale.citizen_reports
    # Wards report more per head than rural communes.
    weights = comm.population * np.where(comm.urban, 2.5, 1.0)
    counts = np.bincount(rng.choice(len(comm), n, p=weights / weights.sum()), minlength=len(comm))
    xy, idx = ctx.points_in_communes(rng, counts)
    n = len(xy)
    category = ctx.pick(rng, "citizen.reports", "category", CATEGORIES, n)
    streets = STREETS[rng.integers(0, len(STREETS), n)]
    content = np.array(
        [
            _pick(rng, TEMPLATES.get(str(c), TEMPLATES["khac"])).format(street=s)
            for c, s in zip(category, streets)
        ],
        dtype=object,
    )
    age_s = rng.exponential(25 * 86400, n).clip(0, 365 * 86400).astype(np.int64)
    status = np.where(
        age_s < 3 * 86400,
        ctx.pick(
            rng, "citizen.reports", "status", {"moi": 45, "da_tiep_nhan": 35, "dang_xu_ly": 20}, n
        ),
        ctx.pick(
            rng, "citizen.reports", "status", {"dang_xu_ly": 12, "da_xu_ly": 80, "tu_choi": 8}, n
        ),
    )
    unit = np.array(
        [
            UNITS.get(str(c), "UBND {commune}").format(commune=comm.names[i])
            for c, i in zip(category, idx)
        ],
        dtype=object,
    )
    unit[status == "moi"] = None
    order = np.argsort(-age_s, kind="stable")
    anonymous = rng.random(n) < 0.15
    names = ctx.names.person_names(rng, n)
    names[anonymous] = None
    phones = ctx.names.phones(rng, n)
    return ctx.table(
        "citizen.reports",
        {
            "report_code": np.array([f"PA-{k + 1:07d}" for k in range(n)], dtype=object),
            "category": category[order],
            "content": content[order],
            "status": status[order],
            "assigned_unit": unit[order],
            "reported_at": timestamps(age_s[order]),
            "commune_code": comm.codes[idx][order],
            "reporter_name": names,
            "reporter_phone": phones,
        },
        shapely.points(xy[order]),
    )


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[int(rng.integers(0, len(options)))]
