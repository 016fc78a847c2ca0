"""Routing to the right unit (a point on the shared boundary of two communes included), the
process's transitions (illegal ones refused, each recorded and audited), commune queues, and
the reporter's one-time rating link (a low rating reopens)."""

from __future__ import annotations

import psycopg

from .citizen_fixtures import COMMUNE, IN_COMMUNE, IN_WARD, ON_EDGE, OUTSIDE, WARD
from .helpers import send, step, token_of


def test_a_point_on_the_shared_boundary_goes_to_the_lower_commune(clients) -> None:  # noqa: ANN001
    receipt = send(clients["anonymous"], *ON_EDGE)
    assert receipt["commune_code"] == WARD == min(WARD, COMMUNE)
    assert receipt["unit"] == "UBND Phường Trấn Biên"
    assert receipt["status"] == "da_giao"  # classified and assigned by the routing rules
    queue = clients["ward_officer"].get("/citizen/queue", params={"unit": f"ubnd_{WARD}"}).json()
    assert receipt["report_code"] in {r["report_code"] for r in queue["reports"]}
    other = clients["commune_officer"].get("/citizen/queue").json()
    assert receipt["report_code"] not in {r["report_code"] for r in other["reports"]}


def test_routing_rules_by_category_and_commune_type(clients) -> None:  # noqa: ANN001
    # Roads in a ward go to the department; in a commune (xã) to its People's Committee.
    ward_road = send(clients["anonymous"], *IN_WARD, category="ha_tang")
    commune_road = send(clients["anonymous"], *IN_COMMUNE, category="ha_tang")
    health = send(clients["anonymous"], *IN_COMMUNE, category="y_te")
    assert ward_road["unit"] == "Sở Xây dựng"
    assert commune_road["unit"] == "UBND Xã Long Hưng"
    assert health["unit"] == "Sở Y tế"


def test_a_location_outside_every_commune_is_refused(clients) -> None:  # noqa: ANN001
    response = clients["anonymous"].post("/uploads/citizen/reports", data={
        "category": "khac", "text": "Một phản ánh ở ngoài tỉnh.", "lon": str(OUTSIDE[0]),
        "lat": str(OUTSIDE[1])})
    assert response.status_code == 400 and "no commune" in response.json()["description"]


def test_illegal_transitions_are_refused_and_legal_ones_recorded(clients, cconn) -> None:  # noqa: ANN001
    code = send(clients["anonymous"], *IN_WARD)["report_code"]
    officer = clients["ward_officer"]
    # assigned -> answered skips "in progress": refused, naming what is allowed
    skip = step(officer, code, to="da_tra_loi", answer="Đã xử lý.")
    assert skip.status_code == 409
    assert skip.json()["code"] == "IllegalTransition" and "dang_xu_ly" in skip.json()["hint"]
    assert step(officer, code, to="da_dong").status_code == 409
    assert step(officer, code, to="no_such_status").status_code == 409
    # a viewer may read but not act; anonymous callers must sign in
    assert step(clients["viewer"], code, to="dang_xu_ly").status_code == 403
    assert step(clients["anonymous"], code, to="dang_xu_ly").status_code == 401
    # the other commune's officer does not see the report at all
    assert step(clients["commune_officer"], code, to="dang_xu_ly").status_code == 404
    assert step(officer, code, to="dang_xu_ly", note="Đã cử cán bộ xuống hiện trường").json()[
        "status"] == "dang_xu_ly"
    # answering needs an answer; returning needs a note; rejecting needs a reason
    assert step(officer, code, to="da_tra_loi").status_code == 400
    returned = step(officer, code, to="tra_lai", note="Không thuộc thẩm quyền của phường")
    assert returned.json()["status"] == "tra_lai"
    assert step(officer, code, to="da_giao").status_code == 400  # needs the new unit
    again = step(clients["dept_officer"], code, to="da_giao", unit="so_xay_dung",
                 note="Giao Sở Xây dựng")
    assert again.status_code == 200 and again.json()["unit_code"] == "so_xay_dung"
    file = clients["dept_officer"].get(f"/citizen/cases/{code}").json()
    steps = [(h["from_status"], h["to_status"], h["actor"], h["actor_kind"])
             for h in file["history"]]
    assert steps == [
        (None, "moi", "citizen (web form)", "reporter"),
        ("moi", "da_phan_loai", "system", "system"),
        ("da_phan_loai", "da_giao", "system", "system"),
        ("da_giao", "dang_xu_ly", "c_ward_officer", "handler"),
        ("dang_xu_ly", "tra_lai", "c_ward_officer", "handler"),
        ("tra_lai", "da_giao", "c_dept_officer", "handler")]
    assert file["history"][3]["note"] == "Đã cử cán bộ xuống hiện trường"
    audited = cconn.execute("SELECT actor, details->>'from', details->>'to' FROM audit.events "
                            "WHERE action = 'citizen.transition' AND target = %s ORDER BY seq",
                            (code,)).fetchall()
    assert audited[-3:] == [("c_ward_officer", "da_giao", "dang_xu_ly"),
                            ("c_ward_officer", "dang_xu_ly", "tra_lai"),
                            ("c_dept_officer", "tra_lai", "da_giao")]
    refused = step(clients["dept_officer"], code, to="tu_choi")
    assert refused.status_code == 409  # da_giao -> tu_choi is not a transition


def test_rejection_needs_a_reason_and_is_final(clients, cconn) -> None:  # noqa: ANN001
    code = send(clients["anonymous"], *IN_COMMUNE, category="khac")["report_code"]
    # reject from "moi": put it back there the way a handler-only intake would leave it
    cconn.execute("UPDATE citizen_private.cases SET status = 'moi' WHERE report_code = %s",
                  (code,))
    officer = clients["commune_officer"]
    assert step(officer, code, to="tu_choi").status_code == 400
    done = step(officer, code, to="tu_choi", reason="Nội dung trùng phản ánh PA-2026-000001")
    assert done.json()["status"] == "tu_choi" and done.json()["allowed_steps"] == []
    assert step(officer, code, to="da_phan_loai").status_code == 409


def test_rating_link_is_one_time_and_a_low_rating_reopens(clients) -> None:  # noqa: ANN001
    receipt = send(clients["anonymous"], *IN_WARD)
    code, token = receipt["report_code"], token_of(receipt)
    anonymous, officer = clients["anonymous"], clients["ward_officer"]
    early = anonymous.post(f"/citizen/track/{token}/rating", json={"rating": 5})
    assert early.status_code == 409  # nothing to rate before the answer
    step(officer, code, to="dang_xu_ly")
    step(officer, code, to="da_tra_loi", answer="Đã nhắc nhở hộ kinh doanh.")
    view = anonymous.get(f"/citizen/track/{token}", params={"f": "json"}).json()
    assert view["status"] == "da_tra_loi" and view["can_rate"] is True
    low = anonymous.post(f"/citizen/track/{token}/rating",
                         json={"rating": 1, "comment": "Vẫn còn lấn chiếm"})
    assert low.status_code == 200 and low.json()["status"] == "dang_xu_ly"
    assert anonymous.post(f"/citizen/track/{token}/rating",
                          json={"rating": 5}).status_code == 409  # used for this answer
    step(officer, code, to="da_tra_loi", answer="Đã lập biên bản và giải tỏa.")
    high = anonymous.post(f"/citizen/track/{token}/rating", data={"rating": "5"})
    assert high.json()["status"] == "da_dong" and high.json()["rating"] == 5
    assert anonymous.get("/citizen/track/not-a-token", params={"f": "json"}).status_code == 404


def test_a_commune_officer_sees_only_its_commune(clients, citizen_db_url) -> None:  # noqa: ANN001
    mine = send(clients["anonymous"], *IN_WARD)["report_code"]
    theirs = send(clients["anonymous"], *IN_COMMUNE)["report_code"]
    officer = clients["ward_officer"]
    queue = {r["report_code"] for r in officer.get("/citizen/queue").json()["reports"]}
    assert mine in queue and theirs not in queue
    assert officer.get(f"/citizen/cases/{theirs}").status_code == 404
    assert officer.get(f"/citizen/cases/{mine}").status_code == 200
    items = officer.get("/collections/citizen.reports/items", params={"limit": 1000}).json()
    codes = {f["properties"]["report_code"] for f in items["features"]}
    assert mine in codes and theirs not in codes
    with psycopg.connect(citizen_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM citizen.reports WHERE report_code = %s",
                            (theirs,)).fetchone()[0] == 1
