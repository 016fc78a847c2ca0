"""Deadlines in working days on Vietnam's calendar (Tết and the other public holidays), overdue
alerts per unit and escalation, raised as of a given time (no wall clock)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import date, datetime

import psycopg
import pytest

from iocgis.api.state import AppState
from iocgis.citizen.calendar import LOCAL, WorkingCalendar
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.definitions import DEFINITIONS_DIR, get_process, load_process
from iocgis.citizen.intake import Submission, submit
from iocgis.citizen.sla import scan
from iocgis.errors import ConfigError

from .citizen_fixtures import IN_WARD, WARD
from .helpers import step

FRIDAY_BEFORE_TET = datetime(2026, 2, 13, 9, 0, tzinfo=LOCAL)


def test_the_calendar_knows_tet_and_national_days() -> None:
    calendar = WorkingCalendar()
    assert not calendar.is_working_day(date(2026, 2, 17))  # Tết Nguyên Đán
    assert not calendar.is_working_day(date(2026, 9, 2))  # Quốc khánh
    assert not calendar.is_working_day(date(2026, 4, 27))  # Giỗ Tổ, substitute day
    assert not calendar.is_working_day(date(2026, 2, 14))  # Saturday
    assert calendar.is_working_day(date(2026, 2, 23))
    # 5 working days from the Friday before Tết: the Tết week does not count
    due = calendar.deadline(FRIDAY_BEFORE_TET, 5)
    assert due == datetime(2026, 2, 27, 23, 59, 59, tzinfo=LOCAL)
    weekdays_only = WorkingCalendar(extra_days_off=frozenset())
    weekdays_only._years[2026] = {}  # no holidays at all: what a naive deadline would be
    assert weekdays_only.deadline(FRIDAY_BEFORE_TET, 5).date() == date(2026, 2, 20)
    province = WorkingCalendar.from_strings(["2026-02-23"])  # a day off decided locally
    assert province.deadline(FRIDAY_BEFORE_TET, 5).date() == date(2026, 3, 2)
    assert calendar.working_days_late(due, datetime(2026, 3, 5, 10, tzinfo=LOCAL)) == 4


def _received_before_tet(settings) -> str:  # noqa: ANN001
    async def run() -> str:
        state = AppState.build(settings)
        await state.open()
        try:
            context = CitizenContext.build(state)
            receipt = await submit(context, Submission(
                category="trat_tu_do_thi", text="Vật liệu xây dựng tràn ra đường từ trước Tết.",
                lon=IN_WARD[0], lat=IN_WARD[1], channel="web",
                received_at=FRIDAY_BEFORE_TET))
            return receipt.report_code
        finally:
            await state.close()
    return asyncio.run(run())


def _scan(url: str, at: datetime) -> list:
    async def run() -> list:
        process = get_process()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            async with conn.transaction():
                return await scan(conn, process,
                                  WorkingCalendar.from_strings(process.routing.extra_days_off),
                                  at)
    return asyncio.run(run())


def test_overdue_after_tet_then_escalated(citizen_settings, citizen_db_url, clients,
                                          cconn) -> None:  # noqa: ANN001
    code = _received_before_tet(citizen_settings)
    due = cconn.execute("SELECT due_at FROM citizen_private.cases WHERE report_code = %s",
                        (code,)).fetchone()[0]
    assert due == datetime(2026, 2, 27, 23, 59, 59, tzinfo=LOCAL)
    # still in time on the evening of the 27th (a weekday-only calendar: a week late)
    raised = _scan(citizen_db_url, datetime(2026, 2, 27, 20, 0, tzinfo=LOCAL))
    assert code not in {a.report_code for a in raised}
    raised = _scan(citizen_db_url, datetime(2026, 2, 28, 8, 0, tzinfo=LOCAL))
    mine = [a for a in raised if a.report_code == code]
    assert [(a.kind, a.level, a.unit_code) for a in mine] == [("overdue", 1, f"ubnd_{WARD}")]
    assert not [a for a in _scan(citizen_db_url, datetime(2026, 2, 28, 9, 0, tzinfo=LOCAL))
                if a.report_code == code]  # raised once
    # four working days late (Mar 2-5): escalated to the provincial office
    raised = _scan(citizen_db_url, datetime(2026, 3, 5, 10, 0, tzinfo=LOCAL))
    mine = [a for a in raised if a.report_code == code]
    assert [(a.kind, a.level, a.unit_code, a.working_days_late) for a in mine] == [
        ("escalated", 2, "vp_ubnd_tinh", 4)]
    ward = clients["ward_officer"].get("/citizen/alerts", params={"unit": f"ubnd_{WARD}"}).json()
    assert code in {a["report_code"] for a in ward["alerts"]}
    province = clients["dept_officer"].get("/citizen/alerts",
                                           params={"unit": "vp_ubnd_tinh"}).json()
    assert code in {a["report_code"] for a in province["alerts"]}
    # the other commune's officer does not see this commune's alerts
    other = clients["commune_officer"].get("/citizen/alerts").json()
    assert code not in {a["report_code"] for a in other["alerts"]}
    level = cconn.execute("SELECT escalation_level FROM citizen.reports WHERE report_code = %s",
                          (code,)).fetchone()[0]
    assert level == 2
    # the answer ends the alerts
    step(clients["ward_officer"], code, to="dang_xu_ly")
    step(clients["ward_officer"], code, to="da_tra_loi", answer="Đã yêu cầu dọn vật liệu.")
    ward = clients["ward_officer"].get("/citizen/alerts", params={"unit": f"ubnd_{WARD}"}).json()
    assert code not in {a["report_code"] for a in ward["alerts"]}
    audited = cconn.execute("SELECT action FROM audit.events WHERE target = %s AND action LIKE "
                            "'citizen.sla.%%' ORDER BY seq", (code,)).fetchall()
    assert [a for (a,) in audited] == ["citizen.sla.overdue", "citizen.sla.escalated"]


def test_sla_check_over_http_needs_a_handler(clients) -> None:  # noqa: ANN001
    assert clients["anonymous"].post("/citizen/sla/check").status_code == 401
    assert clients["viewer"].post("/citizen/sla/check").status_code == 403
    assert clients["dept_officer"].post("/citizen/sla/check").status_code == 200


def test_a_wrong_process_file_fails_naming_the_file_and_the_key(tmp_path) -> None:  # noqa: ANN001
    for name in ("categories.yaml", "workflow.yaml", "privacy.yaml"):
        shutil.copy(DEFINITIONS_DIR / name, tmp_path / name)
    load_process(tmp_path)  # the copies load
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text(workflow.read_text(encoding="utf-8").replace(
        "rating: {scale: 5,", "rating: {scale: many,"), encoding="utf-8")
    with pytest.raises(ConfigError) as failed:
        load_process(tmp_path)
    assert failed.value.where == f"{workflow}: rating.scale"
    assert "citizen process definition" in failed.value.message
