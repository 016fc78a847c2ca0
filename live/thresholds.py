"""Alarm thresholds as data: ``live.thresholds`` rows (per station, or per parameter for every
station), else the levels the station carries in the registry (``iot.stations.alert_1..3``,
``alert_source``: Quyết định 05/2020/QĐ-TTg for the hydrological stations it lists)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import psycopg

# Where a station's own levels come from when the station row does not say.
DEFAULT_SOURCE = {
    "muc_nuoc_song": "Quyết định 05/2020/QĐ-TTg (mực nước báo động I/II/III)",
    "muc_nuoc_ho": "Quy trình vận hành liên hồ chứa (mực nước hồ)",
    "luu_luong": "Quy trình vận hành hồ chứa (thông báo xả lũ)",
}
# Station levels apply to the parameter the station kind measures (water quality's are
# 'below' levels: lower is worse).
STATION_PARAMETER = {"muc_nuoc_song": "water_level", "muc_nuoc_ho": "water_level",
                     "luu_luong": "discharge", "mua": "rainfall", "khong_khi": "aqi",
                     "nuoc_mat": "wqi"}
# A station level clears once the value is this share of the level's distance below it.
STATION_HYSTERESIS = {"water_level": 0.05, "discharge": 50.0}


@dataclass(frozen=True)
class Level:
    level: int
    value: float
    direction: str  # above | below
    hysteresis: float
    source: str

    def crossed(self, value: float) -> bool:
        return value >= self.value if self.direction == "above" else value <= self.value

    def cleared(self, value: float) -> bool:
        if self.direction == "above":
            return value < self.value - self.hysteresis
        return value > self.value + self.hysteresis


THRESHOLD_SQL = ("SELECT level, value, direction, hysteresis, source FROM live.thresholds "
                 "WHERE parameter = %s AND station_code IS NOT DISTINCT FROM %s ORDER BY level")


def levels_for(conn: psycopg.Connection, station: str, parameter: str) -> tuple[Level, ...]:
    """The levels 1..3 of one datastream, lowest first: the station's rows in live.thresholds,
    else the station's own levels (water level, discharge), else the parameter's defaults."""
    own = conn.execute(THRESHOLD_SQL, (parameter, station)).fetchall()
    if own:
        return tuple(Level(*row) for row in own)
    row = conn.execute("SELECT kind, alert_1, alert_2, alert_3, alert_source FROM iot.stations "
                       "WHERE station_code = %s", (station,)).fetchone()
    if row and parameter in STATION_HYSTERESIS and STATION_PARAMETER.get(row[0]) == parameter:
        kind, *values, source = row
        return tuple(Level(i, float(v), "above", STATION_HYSTERESIS[parameter],
                           source or DEFAULT_SOURCE.get(kind, "Quyết định của tỉnh"))
                     for i, v in enumerate(values, start=1) if v is not None)
    return tuple(Level(*r) for r in conn.execute(THRESHOLD_SQL, (parameter, None)).fetchall())


def quiet_band(levels: tuple[Level, ...]) -> tuple[float, float]:
    """Values strictly inside this band cross no level: from level 0 they stay at 0 (the
    evaluator skips them without looking at each level)."""
    low = max((lv.value for lv in levels if lv.direction == "below"), default=-math.inf)
    high = min((lv.value for lv in levels if lv.direction == "above"), default=math.inf)
    return low, high


def next_level(levels: tuple[Level, ...], current: int, value: float) -> int:
    """The alarm level after ``value``, from ``current``: up at once to the highest level
    crossed; down only past a level's hysteresis band (no flapping around a level)."""
    crossed = max((lv.level for lv in levels if lv.crossed(value)), default=0)
    if crossed >= current:
        return crossed
    held = max((lv.level for lv in levels if lv.level <= current and not lv.cleared(value)),
               default=0)
    return max(crossed, held)
