"""Working days in Vietnam: Monday to Friday, less the public holidays (PyPI ``holidays``, which
follows the official Tết and substitute days) and the extra days off of categories.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
END_OF_DAY = time(23, 59, 59)


@dataclass
class WorkingCalendar:
    """Which days are working days; deadlines fall at the end of a working day, local time."""

    extra_days_off: frozenset[date] = frozenset()
    _years: dict[int, holidays.HolidayBase] = field(default_factory=dict)

    @classmethod
    def from_strings(cls, days: tuple[str, ...] | list[str]) -> WorkingCalendar:
        return cls(extra_days_off=frozenset(date.fromisoformat(d) for d in days))

    def is_holiday(self, day: date) -> bool:
        if day.year not in self._years:
            self._years[day.year] = holidays.country_holidays("VN", years=day.year)
        return day in self._years[day.year] or day in self.extra_days_off

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (the day itself does not count)."""
        day = start
        remaining = days
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def deadline(self, received: datetime, days: int) -> datetime:
        """The end (local time) of the ``days``-th working day after the day of receipt."""
        local_day = received.astimezone(LOCAL).date()
        return datetime.combine(self.add_working_days(local_day, days), END_OF_DAY, LOCAL)

    def working_days_late(self, due: datetime, at: datetime) -> int:
        """Whole working days ``at`` lies past ``due`` (0 when not late)."""
        if at <= due:
            return 0
        return self.working_days_between(due.astimezone(LOCAL).date(),
                                         at.astimezone(LOCAL).date())
