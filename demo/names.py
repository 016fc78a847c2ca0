"""Vietnamese names and addresses for synthetic records (personal data: made up, never real)."""

from __future__ import annotations

import numpy as np

from iocgis.demo.table import NameSource
from iocgis.layers.model import nfc


def _nfc_all(words: str) -> np.ndarray:
    return np.array([nfc(w) for w in words.split(",")], dtype=object)


# Family names with their approximate share of the population.
SURNAMES = _nfc_all(
    "Nguyễn,Trần,Lê,Phạm,Huỳnh,Hoàng,Phan,Võ,Vũ,Đặng,Bùi,Đỗ,Hồ,Ngô,Dương,Lý,"
    "Trương,Đinh,Lâm,Mai,Tô,Hà,Cao,Lương,Châu,Thái"
)
SURNAME_WEIGHTS = np.array(
    [
        38,
        11,
        9.5,
        7,
        3,
        2.5,
        4.5,
        3,
        1,
        2.1,
        2,
        1.4,
        1.3,
        1.3,
        1,
        0.5,
        0.8,
        0.6,
        0.6,
        0.5,
        0.4,
        0.5,
        0.5,
        0.4,
        0.3,
        0.3,
    ]
)
SURNAME_WEIGHTS = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
MIDDLE_MALE = _nfc_all("Văn,Hữu,Minh,Đức,Quốc,Thanh,Công,Hoàng,Ngọc,Tấn,Thành,Xuân,Quang,Trọng")
MIDDLE_FEMALE = _nfc_all("Thị,Thị,Thị,Ngọc,Thanh,Thu,Kim,Mỹ,Bích,Hồng,Phương,Thùy,Ngọc Bảo")
GIVEN_MALE = _nfc_all(
    "Hùng,Dũng,Minh,Tuấn,Nam,Phúc,Long,Hải,Sơn,Thắng,Bình,Khang,Trung,Hiếu,"
    "Tâm,Lộc,Tài,Phát,Quang,Vinh,Toàn,Thịnh,Đạt,Khoa,Nghĩa,Sang,Trí,Cường,"
    "Hòa,Thuận,An,Bảo,Duy,Kiên,Luân,Nhân,Tín,Thông,Việt,Huy"
)
GIVEN_FEMALE = _nfc_all(
    "Lan,Hương,Hoa,Mai,Linh,Trang,Thảo,Ngọc,Hạnh,Nhung,Yến,Tuyết,Vân,Hằng,"
    "Dung,Oanh,Phượng,Thủy,Nga,Diễm,Loan,Trinh,Uyên,Như,Hiền,Quyên,Thư,"
    "Châu,Giang,Liên"
)
# Streets of Biên Hòa and other towns (names of people and events used across Vietnam).
STREETS = _nfc_all(
    "Phạm Văn Thuận,Võ Thị Sáu,Đồng Khởi,Nguyễn Ái Quốc,30 Tháng 4,"
    "Cách Mạng Tháng Tám,Hà Huy Giáp,Phan Trung,Nguyễn Văn Trị,Huỳnh Văn Nghệ,"
    "Bùi Văn Hòa,Nguyễn Du,Trần Hưng Đạo,Hùng Vương,Lê Duẩn,Nguyễn Văn Trỗi,"
    "Phan Chu Trinh,Lý Thường Kiệt,Quang Trung,Hoàng Văn Bổn,Đặng Văn Trơn,"
    "Nguyễn Tri Phương,Lê Quý Đôn,Trương Định,Phú Riềng Đỏ,Hồ Xuân Hương,"
    "Nguyễn Thị Minh Khai,Điểu Ong,Lê Lợi,Trần Phú,Tôn Đức Thắng,Bùi Thị Xuân,"
    "Nguyễn Trãi,Hai Bà Trưng,Lạc Long Quân,Âu Cơ,Võ Nguyên Giáp,Lê Hồng Phong"
)


class VietnameseNames(NameSource):
    """Person names, phone numbers and addresses drawn with a caller's Generator."""

    def person_names(self, rng: np.random.Generator, n: int) -> np.ndarray:
        male = rng.random(n) < 0.5
        sur = SURNAMES[rng.choice(len(SURNAMES), n, p=SURNAME_WEIGHTS)]
        mid = np.where(
            male,
            MIDDLE_MALE[rng.integers(0, len(MIDDLE_MALE), n)],
            MIDDLE_FEMALE[rng.integers(0, len(MIDDLE_FEMALE), n)],
        )
        given = np.where(
            male,
            GIVEN_MALE[rng.integers(0, len(GIVEN_MALE), n)],
            GIVEN_FEMALE[rng.integers(0, len(GIVEN_FEMALE), n)],
        )
        return (sur + " " + mid + " " + given).astype(object)

    def phones(self, rng: np.random.Generator, n: int) -> np.ndarray:
        prefixes = np.array(
            [
                "090",
                "091",
                "093",
                "094",
                "096",
                "097",
                "098",
                "086",
                "088",
                "070",
                "077",
                "079",
                "083",
                "085",
                "039",
                "038",
                "035",
            ],
            dtype=object,
        )
        pre = prefixes[rng.integers(0, len(prefixes), n)]
        return np.array(
            [f"{p}{d:07d}" for p, d in zip(pre, rng.integers(0, 10**7, n))], dtype=object
        )

    def streets(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return STREETS[rng.integers(0, len(STREETS), n)]

    def addresses(
        self, rng: np.random.Generator, n: int, commune_name: str, urban: bool
    ) -> np.ndarray:
        """'Số 12, đường Võ Thị Sáu, khu phố 3, Phường Trấn Biên' or 'Ấp 4, Xã Trảng Bom'."""
        if urban:
            numbers = rng.integers(1, 400, n)
            street = self.streets(rng, n)
            quarter = rng.integers(1, 15, n)
            return np.array(
                [
                    f"Số {no}, đường {s}, khu phố {q}, {commune_name}"
                    for no, s, q in zip(numbers, street, quarter)
                ],
                dtype=object,
            )
        hamlet = rng.integers(1, 12, n)
        group = rng.integers(1, 25, n)
        return np.array(
            [f"Tổ {g}, ấp {h}, {commune_name}" for g, h in zip(group, hamlet)], dtype=object
        )


NAMES = VietnameseNames()
