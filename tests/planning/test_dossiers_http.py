"""Dossiers over HTTP as anonymous, viewer, analyst, GIS officer and administrator: who may
change them, what a draft shows (nothing, outside the organisation) and what an approved
plan shows (its decision and notes, to everyone), checked uploads, audited changes."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from .conftest import MAX_FILE_BYTES, SCAN_MARKER, halves, upload
from .files import make_docx, make_dxf, make_pdf

PDF_TYPE = "application/pdf"


@pytest.fixture(scope="module")
def api_dossier(clients: dict[str, httpx.Client], tmp_path_factory: pytest.TempPathFactory
                ) -> dict:
    """QHCT-API-01 with a decision, a note and a consultation record, still a draft."""
    folder = tmp_path_factory.mktemp("api-dossier")
    officer = clients["gis_officer"]
    made = officer.post("/planning/manage/dossiers", json={"project_code": "QHCT-API-01"})
    assert made.status_code == 201, made.text
    dossier = made.json()
    files = {
        "decision": make_pdf(folder / "quyet_dinh.pdf", "QUYẾT ĐỊNH",
                             ["Phê duyệt đồ án quy hoạch chi tiết tỷ lệ 1/500"]),
        "note": make_pdf(folder / "thuyet_minh.pdf", "THUYẾT MINH", ["Khu dân cư thử nghiệm"]),
        "consultation": make_docx(folder / "lay_y_kien.docx", "Biên bản lấy ý kiến",
                                  ["Ông Nguyễn Văn A, tổ 5, đồng ý."]),
    }
    docs = {}
    for kind, path in files.items():
        response = upload(officer, dossier["id"], path, kind)
        assert response.status_code == 201, response.text
        docs[kind] = response.json()
    return {"id": dossier["id"], "dossier": dossier, "docs": docs, "files": files}


def test_only_officers_without_a_commune_limit_change_dossiers(
        clients: dict[str, httpx.Client]) -> None:
    body = {"project_code": "QHCT-ROLES-01", "title": "Đồ án thử quyền", "kind": "chi_tiet"}
    assert clients["anonymous"].post("/planning/manage/dossiers", json=body).status_code == 401
    for role in ("viewer", "analyst", "scoped_officer"):
        assert clients[role].post("/planning/manage/dossiers", json=body).status_code == 403
    made = clients["admin"].post("/planning/manage/dossiers", json=body)
    assert made.status_code == 201 and made.headers["Location"] == \
        f"/planning/dossiers/{made.json()['id']}"
    again = clients["gis_officer"].post("/planning/manage/dossiers", json=body)
    assert again.status_code == 400 and "exists already" in again.json()["description"]
    unknown = clients["gis_officer"].post("/planning/manage/dossiers", json={
        "project_code": "QHCT-NOWHERE-01"})  # not in planning.projects: title and kind needed
    assert unknown.status_code == 400 and unknown.json()["where"] == "title"
    for role in ("anonymous", "analyst"):
        dossier_id = made.json()["id"]
        assert clients[role].put(f"/planning/manage/dossiers/{dossier_id}/decision",
                                 json={}).status_code == (401 if role == "anonymous" else 403)


def test_a_draft_is_internal_and_an_approved_decision_is_public(
        clients: dict[str, httpx.Client], api_dossier: dict, planning_db_url: str) -> None:
    dossier_id, docs = api_dossier["id"], api_dossier["docs"]
    anonymous, analyst, officer = clients["anonymous"], clients["analyst"], clients["gis_officer"]
    assert api_dossier["dossier"]["title"] == "Quy hoạch chi tiết 1/500 khu QHCT-API-01"
    assert anonymous.get(f"/planning/dossiers/{dossier_id}").status_code == 404
    assert anonymous.get(f"/planning/documents/{docs['decision']['id']}").status_code == 404
    assert all(d["id"] != dossier_id for d in anonymous.get("/planning/dossiers").json()[
        "dossiers"])
    seen = analyst.get(f"/planning/dossiers/{dossier_id}").json()
    assert {d["kind"] for d in seen["documents"]} == {"decision", "note", "consultation"}
    assert clients["viewer"].get(f"/planning/dossiers/{dossier_id}").status_code == 200
    got = analyst.get(f"/planning/documents/{docs['decision']['id']}")
    assert got.status_code == 200 and got.content == api_dossier["files"]["decision"].read_bytes()
    assert got.headers["content-type"] == PDF_TYPE and got.headers["etag"].strip('"') == \
        docs["decision"]["sha256"]

    refused = officer.post(f"/planning/manage/dossiers/{dossier_id}/status",
                           json={"status": "approved"})
    assert refused.status_code == 400 and "no approving decision" in refused.json()["description"]
    decided = officer.put(f"/planning/manage/dossiers/{dossier_id}/decision", json={
        "number": "5678/QĐ-UBND", "decision_date": "2024-03-01", "authority": "UBND tỉnh Đồng Nai",
        "signer": "Phó Chủ tịch Trần Văn Ký", "document_id": docs["decision"]["id"]})
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"]["effective_date"] == "2024-03-01"
    approved = officer.post(f"/planning/manage/dossiers/{dossier_id}/status",
                            json={"status": "approved", "note": "đã ký quyết định"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"

    public = anonymous.get(f"/planning/dossiers/{dossier_id}").json()
    assert {d["kind"] for d in public["documents"]} == {"decision", "note"}  # not the residents'
    assert public["decision"]["number"] == "5678/QĐ-UBND"
    assert public["decision"]["document_href"] == f"/planning/documents/{docs['decision']['id']}"
    assert [h["status"] for h in public["history"]] == ["draft", "approved"]
    assert "changed_by" not in public["history"][0] and "created_by" not in public
    internal = analyst.get(f"/planning/dossiers/{dossier_id}").json()
    assert internal["history"][-1]["changed_by"] == officer_name(clients)
    assert internal["history"][-1]["note"] == "đã ký quyết định"
    assert anonymous.get(f"/planning/documents/{docs['decision']['id']}").content == \
        api_dossier["files"]["decision"].read_bytes()
    assert anonymous.get(f"/planning/documents/{docs['consultation']['id']}").status_code == 404
    assert analyst.get(f"/planning/documents/{docs['consultation']['id']}").status_code == 200

    again = officer.post(f"/planning/manage/dossiers/{dossier_id}/status",
                         json={"status": "draft"})
    assert again.status_code == 400 and "allowed from approved: expired" in again.json()["hint"]
    with psycopg.connect(planning_db_url) as conn:
        actions = [r[0] for r in conn.execute(
            "SELECT action FROM audit.events WHERE target = %s ORDER BY seq",
            (f"planning dossier {dossier_id}",))]
    assert actions[:1] == ["planning.dossier.create"]
    assert actions.count("planning.document.add") == 3
    assert "planning.decision" in actions and actions[-1] == "planning.status"


def officer_name(clients: dict[str, httpx.Client]) -> str:
    return clients["gis_officer"].get("/auth/me").json()["name"]


def test_uploads_are_checked_by_content_size_and_scanner(
        clients: dict[str, httpx.Client], api_dossier: dict, tmp_path: Path) -> None:
    officer, dossier_id = clients["admin"], api_dossier["id"]
    drawing = make_dxf(tmp_path / "ban_ve.pdf", [{"zone_code": "X-1", "land_use": "ODT",
                                                  "rules": "MĐXD 50%",
                                                  "geom": halves("QHCT-API-01")[0]}])
    wrong = upload(officer, dossier_id, drawing, "note")
    assert wrong.status_code == 400
    assert "DXF drawing, which a note document cannot be" in wrong.json()["description"]
    exe = tmp_path / "thuyet_minh.pdf"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 1000)
    refused = upload(officer, dossier_id, exe, "note")
    assert refused.status_code == 400 and "unknown type" in refused.json()["description"]
    infected = tmp_path / "nhiem.pdf"  # the scanner's marker in the bytes, as EICAR would be
    infected.write_bytes(make_pdf(tmp_path / "goc.pdf", "Tệp nhiễm", ["x"]).read_bytes()
                         + f"% {SCAN_MARKER}\n".encode())
    scanned = upload(officer, dossier_id, infected, "note")
    assert scanned.status_code == 422 and scanned.json()["code"] == "InfectedFile"
    huge = tmp_path / "lon.pdf"
    huge.write_bytes(b"%PDF-1.7\n" + b"0" * MAX_FILE_BYTES)
    assert upload(officer, dossier_id, huge, "note").status_code == 413
    bad_kind = upload(officer, dossier_id, infected, "painting")
    assert bad_kind.status_code == 400 and bad_kind.json()["where"] == "kind"
    kept = upload(officer, dossier_id, drawing, "drawing", title="Bản vẽ quy hoạch sử dụng đất")
    assert kept.status_code == 201 and kept.json()["media_type"] == "image/vnd.dxf"
    assert kept.json()["title"] == "Bản vẽ quy hoạch sử dụng đất"


def test_a_stored_file_that_no_longer_matches_its_checksum_is_not_served(
        clients: dict[str, httpx.Client], files_dir: Path, tmp_path: Path) -> None:
    officer = clients["gis_officer"]
    made = officer.post("/planning/manage/dossiers", json={
        "project_code": "QHCT-TAMPER-01", "title": "Hồ sơ thử hỏng tệp", "kind": "chi_tiet"})
    note = make_pdf(tmp_path / "hong.pdf", "Thuyết minh sẽ hỏng", ["nội dung riêng"])
    doc = upload(officer, made.json()["id"], note, "note").json()
    stored = files_dir / doc["sha256"][:2] / doc["sha256"][2:4] / doc["sha256"]
    assert stored.read_bytes() == note.read_bytes()
    stored.write_bytes(note.read_bytes() + b"tampered")
    response = clients["analyst"].get(f"/planning/documents/{doc['id']}")
    assert response.status_code == 500 and response.json()["code"] == "StoredFileCorrupt"
    assert str(files_dir) not in response.text or "restore" in response.json()["hint"]
