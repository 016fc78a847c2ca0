"""Statistics by unit, commune and category equal the same numbers computed here, in Python,
from the case file itself (its transitions and ratings), not from the public layer; and the
KPI values follow them."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from iocgis.api.state import AppState
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.intake import Submission, submit

from .citizen_fixtures import IN_COMMUNE, IN_WARD
from .helpers import send, step, token_of

WINDOW = {"from": "2000-01-01", "to": "2100-01-01"}


def _old_report(settings, category: str, where: tuple[float, float], days_ago: int) -> str:  # noqa: ANN001
    async def run() -> str:
        state = AppState.build(settings)
        await state.open()
        try:
            receipt = await submit(CitizenContext.build(state), Submission(
                category=category, text="Phản ánh cũ chưa được trả lời đúng hạn.",
                lon=where[0], lat=where[1], channel="web",
                received_at=datetime.now(UTC) - timedelta(days=days_ago)))
            return receipt.report_code
        finally:
            await state.close()
    return asyncio.run(run())


@pytest.fixture(scope="module")
def handled(clients, citizen_settings) -> list[str]:  # noqa: ANN001
    """Reports answered late and on time, rated high and low, one rejected, one still open."""
    anonymous = clients["anonymous"]
    made = []
    for category, where, rating in (("trat_tu_do_thi", IN_WARD, 5), ("chieu_sang", IN_WARD, 4),
                                    ("ha_tang", IN_COMMUNE, 2), ("y_te", IN_COMMUNE, None)):
        receipt = send(anonymous, *where, category=category)
        made.append((receipt["report_code"], token_of(receipt), rating))
    late = [_old_report(citizen_settings, "trat_tu_do_thi", IN_WARD, 40),
            _old_report(citizen_settings, "y_te", IN_COMMUNE, 30)]
    officers = {"ward": clients["ward_officer"], "dept": clients["dept_officer"],
                "commune": clients["commune_officer"]}
    for code, token, rating in made[:3] + [(c, None, None) for c in late]:
        officer = officers["dept"]
        step(officer, code, to="dang_xu_ly")
        step(officer, code, to="da_tra_loi", answer="Đã xử lý xong.")
        if rating:
            anonymous.post(f"/citizen/track/{token}/rating", json={"rating": rating})
    rejected = send(anonymous, *IN_COMMUNE, category="khac")["report_code"]
    step(officers["commune"], rejected, to="tra_lai", note="Không rõ nội dung")
    step(officers["commune"], rejected, to="tu_choi", reason="Không đủ thông tin để xử lý")
    return [m[0] for m in made] + late + [rejected]


def _expected(cconn, key: str) -> dict[str, dict]:  # noqa: ANN001
    cases = cconn.execute("SELECT id, unit_code, commune_code, category, status, reported_at, "
                          "due_at FROM citizen_private.cases WHERE published").fetchall()
    answered: dict[int, datetime] = {}
    for case_id, to_status, at in cconn.execute(
            "SELECT case_id, to_status, at FROM citizen_private.transitions ORDER BY id"):
        if to_status == "da_tra_loi":
            answered[case_id] = at
        elif to_status == "dang_xu_ly":
            answered.pop(case_id, None)  # reopened: the next answer counts
    ratings = {case_id: rating for case_id, rating in cconn.execute(
        "SELECT case_id, rating FROM citizen_private.ratings ORDER BY answer_round")}
    groups: dict[str, dict] = defaultdict(lambda: {"received": 0, "answered": 0, "on_time": 0,
                                                   "rejected": 0, "days": [], "ratings": []})
    index = {"unit": 1, "commune": 2, "category": 3}[key]
    for row in cases:
        case_id, status, reported, due = row[0], row[4], row[5], row[6]
        group = groups[row[index]]
        group["received"] += 1
        group["rejected"] += status == "tu_choi"
        if case_id in answered:
            group["answered"] += 1
            group["on_time"] += answered[case_id] <= due
            group["days"].append((answered[case_id] - reported).total_seconds() / 86400)
        if case_id in ratings:
            group["ratings"].append(ratings[case_id])
    return groups


@pytest.mark.parametrize("by", ["unit", "commune", "category"])
def test_statistics_equal_the_case_file(clients, handled, cconn, by) -> None:  # noqa: ANN001
    body = clients["anonymous"].get("/citizen/stats", params={"by": by, **WINDOW}).json()
    got = {g["key"]: g for g in body["groups"]}
    expected = _expected(cconn, by)
    assert set(got) == set(expected)
    for key, want in expected.items():
        group = got[key]
        assert group["received"] == want["received"], key
        assert group["answered"] == want["answered"], key
        assert group["answered_on_time"] == want["on_time"], key
        assert group["rejected"] == want["rejected"], key
        rate = round(100 * want["on_time"] / want["answered"], 1) if want["answered"] else None
        assert group["on_time_rate"] == rate, key
        days = round(sum(want["days"]) / len(want["days"]), 2) if want["days"] else None
        assert group["avg_days_to_answer"] == pytest.approx(days, abs=0.006), key
        satisfaction = round(sum(want["ratings"]) / len(want["ratings"]), 2) \
            if want["ratings"] else None
        assert group["satisfaction"] == satisfaction, key
        assert group["rated"] == len(want["ratings"]), key
    assert any(g["answered"] > g["answered_on_time"] for g in got.values())  # some late ones
    if by == "unit":
        assert got["so_y_te"]["label"] == "Sở Y tế"


def test_statistics_as_csv_and_kpi(clients, handled) -> None:  # noqa: ANN001
    csv = clients["anonymous"].get("/citizen/stats", params={"by": "unit", "f": "csv", **WINDOW})
    assert csv.status_code == 200 and csv.text.startswith("\ufeffkey,label,received")
    year = str(datetime.now(UTC).year)
    kpi = clients["anonymous"].get("/citizen/stats/kpi", params={"period": year}).json()
    assert {i["code"] for i in kpi["indicators"]} == {"PAHT_DUNG_HAN", "PAHT_HAI_LONG",
                                                      "PAHT_TIEP_NHAN"}
    admins = {v["admin_code"] for v in kpi["values"]}
    assert {"26041", "26068", "75"} <= admins
    assert all(v["period"] == year for v in kpi["values"])
    bad = clients["anonymous"].get("/citizen/stats/kpi", params={"period": "2026-Q5"})
    assert bad.status_code == 400
