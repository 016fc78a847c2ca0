"""Reporting periods: a month (2026-07), a quarter (2026-Q3), a half year (2026-H1) or a year
(2026); their dates, the period before, the same period a year earlier, and the indicator
period (``kpi.values.period``) that stands for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from iocgis.errors import InvalidInput

PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:(Q[1-4])|(H[12])|(0[1-9]|1[0-2])))?$")
KINDS = ("month", "quarter", "half", "year")
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
MONTHS_PER = {"month": 1, "quarter": 3, "half": 6, "year": 12}


@dataclass(frozen=True)
class Period:
    kind: str  # month, quarter, half, year
    year: int
    index: int  # the month (1-12), quarter (1-4) or half (1-2); 1 for a year

    @property
    def code(self) -> str:
        if self.kind == "year":
            return f"{self.year}"
        if self.kind == "month":
            return f"{self.year}-{self.index:02d}"
        return f"{self.year}-{'Q' if self.kind == 'quarter' else 'H'}{self.index}"

    @property
    def first_month(self) -> int:
        return (self.index - 1) * MONTHS_PER[self.kind] + 1

    @property
    def start(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end(self) -> date:
        """The first day after the period."""
        month = self.first_month + MONTHS_PER[self.kind]
        return date(self.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)

    @property
    def kpi_period(self) -> str:
        """The indicator period reported for it: a half year by the quarter that closes it
        (indicator values are kept per month, quarter and year)."""
        if self.kind == "half":
            return f"{self.year}-Q{self.index * 2}"
        return self.code

    def previous(self) -> Period:
        if self.kind == "year" or self.index > 1:
            return Period(self.kind, self.year - (self.kind == "year"),
                          1 if self.kind == "year" else self.index - 1)
        last = {"month": 12, "quarter": 4, "half": 2}[self.kind]
        return Period(self.kind, self.year - 1, last)

    def last_year(self) -> Period:
        return Period(self.kind, self.year - 1, self.index)

    @property
    def title_vi(self) -> str:
        if self.kind == "year":
            return f"năm {self.year}"
        if self.kind == "month":
            return f"tháng {self.index} năm {self.year}"
        if self.kind == "quarter":
            return f"quý {ROMAN[self.index]} năm {self.year}"
        return f"6 tháng {'đầu' if self.index == 1 else 'cuối'} năm {self.year}"

    @property
    def title_en(self) -> str:
        if self.kind == "year":
            return f"year {self.year}"
        if self.kind == "month":
            return date(self.year, self.index, 1).strftime("%B %Y")
        if self.kind == "quarter":
            return f"Q{self.index} {self.year}"
        return f"{'first' if self.index == 1 else 'second'} half of {self.year}"


def parse_period(text: str, where: str = "period") -> Period:
    match = PERIOD_RE.match(text.strip()) if text else None
    if match is None:
        raise InvalidInput(f"{str(text)[:20]!r} is not a reporting period", where=where,
                           hint="write a year (2026), a half year (2026-H1), a quarter (2026-Q3) "
                                "or a month (2026-07)")
    year, quarter, half, month = match.groups()
    if quarter:
        return Period("quarter", int(year), int(quarter[1]))
    if half:
        return Period("half", int(year), int(half[1]))
    if month:
        return Period("month", int(year), int(month))
    return Period("year", int(year), 1)
