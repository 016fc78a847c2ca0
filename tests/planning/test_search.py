"""Vietnamese full-text search of dossiers and notes: with and without diacritics, exact-accent
matches first (unaccent merges hòa / hóa), old and new tone-mark placement alike, text read
from PDF and DOCX notes, and only what the caller may read."""

from __future__ import annotations

import httpx
import pytest

from .files import make_docx, make_pdf
from .test_dossiers_http import upload


@pytest.fixture(scope="module")
def searchable(clients: dict[str, httpx.Client], tmp_path_factory: pytest.TempPathFactory
               ) -> dict:
    folder = tmp_path_factory.mktemp("search")
    officer = clients["gis_officer"]
    made = {}
    for code, title, kind in (
            ("QHCT-SEARCH-HOA", "Khu đô thị sinh thái Biên Hòa", "chi_tiet"),
            ("QHCT-SEARCH-HOA2", "Khu công nghiệp hóa chất Long Thành", "chi_tiet"),
            ("QHCT-SEARCH-DRAFT", "Khu tái định cư Suối Trầu (dự thảo)", "phan_khu")):
        made[code] = officer.post("/planning/manage/dossiers", json={
            "project_code": code, "title": title, "kind": kind}).json()
    note = make_pdf(folder / "thuyet_minh.pdf", "Thuyết minh tổng hợp", [
        "Đồ án quy hoạch chi tiết xây dựng tỷ lệ 1/500 khu dân cư phường Trấn Biên.",
        "Hệ thống thoát nước mưa được thiết kế riêng với nước thải sinh hoạt."])
    report = make_docx(folder / "bao_cao.docx", "Báo cáo tiếp thu ý kiến", [
        "Cộng đồng dân cư khu phố Thủy Lợi đề nghị bổ sung công viên cây xanh."])
    made["note"] = upload(officer, made["QHCT-SEARCH-HOA"]["id"], note, "note").json()
    made["report"] = upload(officer, made["QHCT-SEARCH-HOA"]["id"], report, "note").json()
    draft_note = make_pdf(folder / "du_thao.pdf", "Dự thảo", ["Phương án bồi thường Suối Trầu"])
    upload(officer, made["QHCT-SEARCH-DRAFT"]["id"], draft_note, "note")
    for code in ("QHCT-SEARCH-HOA", "QHCT-SEARCH-HOA2"):  # public from consultation on
        assert officer.post(f"/planning/manage/dossiers/{made[code]['id']}/status",
                            json={"status": "consultation"}).status_code == 200
    return made


def search(client: httpx.Client, q: str) -> dict:
    response = client.get("/planning/search", params={"q": q})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_note_is_found_by_an_unaccented_phrase(clients: dict[str, httpx.Client],
                                                 searchable: dict) -> None:
    for q in ("quy hoach chi tiet phuong tran bien", "QUY HOẠCH CHI TIẾT phường Trấn Biên",
              '"thoat nuoc mua"'):
        hits = search(clients["anonymous"], q)["hits"]
        assert hits and hits[0]["document_id"] == searchable["note"]["id"], (q, hits)
        assert hits[0]["href"] == f"/planning/documents/{searchable['note']['id']}"
    docx = search(clients["anonymous"], "cong vien cay xanh")["hits"]
    assert docx[0]["document_id"] == searchable["report"]["id"]
    assert "«" in docx[0]["snippet"]


def test_exact_accents_rank_first_and_tone_placement_does_not_matter(
        clients: dict[str, httpx.Client], searchable: dict) -> None:
    anonymous = clients["anonymous"]
    hoa = searchable["QHCT-SEARCH-HOA"]["id"]
    hoa2 = searchable["QHCT-SEARCH-HOA2"]["id"]
    exact = [h for h in search(anonymous, "hòa")["hits"] if h["type"] == "dossier"]
    assert [h["dossier_id"] for h in exact][:2] == [hoa, hoa2] and exact[0]["exact"]
    assert not exact[1]["exact"]  # hóa: the same letters without accents, ranked after
    other = [h for h in search(anonymous, "hóa")["hits"] if h["type"] == "dossier"]
    assert [h["dossier_id"] for h in other][:2] == [hoa2, hoa]
    new_style = [h for h in search(anonymous, "Biên Hoà")["hits"] if h["type"] == "dossier"]
    assert new_style[0]["dossier_id"] == hoa and new_style[0]["exact"]  # Hoà = Hòa
    thuy = search(anonymous, "Thuỷ Lợi")["hits"]  # written "Thủy Lợi" in the report
    assert thuy[0]["document_id"] == searchable["report"]["id"] and thuy[0]["exact"]
    folded = search(anonymous, "hoa")["hits"]  # no accents: both
    assert {h["dossier_id"] for h in folded} >= {hoa, hoa2}


def test_search_shows_only_what_the_caller_may_read(clients: dict[str, httpx.Client],
                                                    searchable: dict) -> None:
    draft = searchable["QHCT-SEARCH-DRAFT"]["id"]
    assert all(h["dossier_id"] != draft for h in search(clients["anonymous"], "suoi trau")["hits"])
    inside = search(clients["analyst"], "suoi trau")["hits"]
    assert {h["dossier_id"] for h in inside} == {draft} and len(inside) == 2  # dossier + note
    refused = clients["anonymous"].get("/planning/search", params={"q": "x" * 201})
    assert refused.status_code == 400 and refused.json()["where"] == "q"


def catalogue(client: httpx.Client, **params: str) -> dict:
    response = client.get("/collections/catalog/items", params={"limit": "100", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_dossiers_and_documents_are_catalogue_records_found_by_q(
        clients: dict[str, httpx.Client], searchable: dict) -> None:
    note_id = f"planning.document.{searchable['note']['id']}"
    found = catalogue(clients["anonymous"], q="thoat nuoc mua", type="document")
    assert [r["id"] for r in found["features"]] == [note_id]
    note = found["features"][0]
    assert note["properties"]["sensitivity"] == "public"
    assert note["properties"]["mediaType"] == "application/pdf"
    enclosure = next(link for link in note["links"] if link["rel"] == "enclosure")
    assert enclosure["href"].endswith(f"/planning/documents/{searchable['note']['id']}")
    assert clients["anonymous"].get(enclosure["href"]).status_code == 200
    hoa = catalogue(clients["anonymous"], q="Bien Hoa", type="dossier")["features"]
    assert [r["properties"]["projectCode"] for r in hoa] == ["QHCT-SEARCH-HOA"]
    layers = catalogue(clients["anonymous"], type="dataset")["features"]  # beside the layers
    assert layers and all(r["properties"]["type"] == "dataset" for r in layers)
    draft = f"planning.dossier.{searchable['QHCT-SEARCH-DRAFT']['id']}"
    for caller, visible in (("anonymous", False), ("analyst", True)):
        ids = [r["id"] for r in catalogue(clients[caller], q="Suoi Trau")["features"]]
        assert (draft in ids) is visible, (caller, ids)
        one = clients[caller].get(f"/collections/catalog/items/{draft}")
        assert one.status_code == (200 if visible else 404)
    assert clients["anonymous"].get(f"/collections/catalog/items/{note_id}").json()[
        "properties"]["fileName"] == searchable["note"]["file_name"]
