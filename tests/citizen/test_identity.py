"""The reporter's identity: absent from every anonymous and non-PII answer (Open311, OGC API
JSON/CSV/HTML, tiles, queries, statistics, pages, photos), readable with the PII right and a
purpose (audited), unreadable in a pg_dump of the database without the key; the public
location is generalised and the precise one reaches no public path."""

from __future__ import annotations

import gzip
import io
import json
import math
import subprocess

import mapbox_vector_tile
import psycopg
import pytest
from PIL import Image

from iocgis.citizen.keyring import Keyring, new_encryption_key
from iocgis.errors import ConfigError

from ..conftest import PUBLIC_URL, behind_proxy
from .citizen_fixtures import IN_WARD, SECRETS, photo_with_gps
from .helpers import send, step, token_of

# A precise point with more digits than any generalised one could share by chance.
PRECISE = (106.8312345, 10.9476543)
PRECISE_TEXT = ("106.831234", "10.947654", "106.8312345", "10.9476543")


def _tile(z: int, lon: float, lat: float) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    r = math.radians(lat)
    y = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
    return z, x, y


@pytest.fixture(scope="module")
def published(clients) -> dict:  # noqa: ANN001
    """A report with the reporter's identity and a GPS-tagged photo, moderated and public."""
    receipt = send(clients["anonymous"], *PRECISE, category="chieu_sang",
                   text="Đèn đường hỏng cả tuần trước nhà bà Bí Mật, số 0912 345 678.",
                   photos=[photo_with_gps(*PRECISE)])
    code = receipt["report_code"]
    officer = clients["commune_officer"]
    file = officer.get(f"/citizen/cases/{code}").json()
    photo_id = file["photos"][0]["public_id"]
    moderated = officer.post(f"/citizen/cases/{code}/moderation", json={
        "summary": "Đèn đường hỏng nhiều ngày.", "photos": {photo_id: True}})
    assert moderated.status_code == 200
    step(officer, code, to="dang_xu_ly")
    step(officer, code, to="da_tra_loi", answer="Đã thay bóng đèn.")
    return {"code": code, "token": token_of(receipt), "photo": photo_id, "file": file}


def _public_point(clients, code: str) -> tuple[float, float]:  # noqa: ANN001
    items = clients["anonymous"].get("/collections/citizen.public_reports/items",
                                     params={"limit": 1000}).json()
    (feature,) = [f for f in items["features"] if f["properties"]["report_code"] == code]
    return tuple(feature["geometry"]["coordinates"])


def _answers(clients, published) -> dict[str, tuple[str, bytes]]:  # noqa: ANN001
    code, z, x, y = published["code"], *_tile(16, *PRECISE)
    anonymous, viewer = clients["anonymous"], clients["viewer"]
    public_items = "/collections/citizen.public_reports/items"
    # the public tile is the one of the generalised point (it may be the next tile over)
    _, px, py = _tile(16, *_public_point(clients, code))
    internal_items = "/collections/citizen.reports/items"
    asks = {
        "anon open311 list": (anonymous, "/open311/v2/requests.json", {}),
        "anon open311 one": (anonymous, f"/open311/v2/requests/{code}.json", {}),
        "anon items json": (anonymous, public_items, {"f": "json", "limit": 1000}),
        "anon items csv": (anonymous, public_items, {"f": "csv", "limit": 1000}),
        "anon items html": (anonymous, public_items, {"f": "html"}),
        "anon tile": (anonymous, f"/tiles/citizen.public_reports/{z}/{px}/{py}.mvt", {}),
        "anon stats unit": (anonymous, "/citizen/stats", {"by": "unit"}),
        "anon stats csv": (anonymous, "/citizen/stats", {"by": "commune", "f": "csv"}),
        "anon kpi": (anonymous, "/citizen/stats/kpi", {"period": "2026"}),
        "anon page": (anonymous, "/citizen", {}),
        "anon track": (anonymous, f"/citizen/track/{published['token']}", {"f": "json"}),
        "anon query": (anonymous, "/query/radius", {"lon": PRECISE[0], "lat": PRECISE[1],
                                                    "radius_m": 500,
                                                    "layers": "citizen.public_reports"}),
        "viewer items json": (viewer, internal_items, {"f": "json", "limit": 1000}),
        "viewer items csv": (viewer, internal_items, {"f": "csv", "limit": 1000}),
        "viewer items html": (viewer, internal_items, {"f": "html", "limit": 1000}),
        "viewer tile": (viewer, f"/tiles/citizen.reports/{z}/{x}/{y}.mvt", {}),
        "viewer query": (viewer, "/query/point", {"lon": PRECISE[0], "lat": PRECISE[1],
                                                  "layers": "citizen.reports",
                                                  "tolerance_m": 50, "f": "csv"}),
        "viewer queue": (viewer, "/citizen/queue", {}),
        "viewer case file": (viewer, f"/citizen/cases/{code}", {}),
        "analyst alerts": (clients["analyst"], "/citizen/alerts", {}),
    }
    out = {}
    for label, (client, path, params) in asks.items():
        response = client.get(path, params=params)
        assert response.status_code == 200, (label, response.status_code, response.text[:300])
        body = response.content
        if label.endswith("tile"):
            body = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        text = response.text if not label.endswith("tile") else ""
        for given in params.values():  # an echo of the caller's own input is no leak
            text = text.replace(str(given), "")
        out[label] = (text, body)
    return out


def test_no_identity_in_any_anonymous_or_non_pii_answer(clients, published) -> None:  # noqa: ANN001
    for label, (text, body) in _answers(clients, published).items():
        raw = body.decode("utf-8", "replace")
        leaked = [s for s in SECRETS if s in text or s in raw]
        assert not leaked, f"{label}: {leaked}"
    # the reporter's own words quoted a phone number: the public sees the moderated text only
    public = clients["anonymous"].get(f"/open311/v2/requests/{published['code']}.json").json()
    assert public[0]["description"] == "Đèn đường hỏng nhiều ngày."


def test_no_precise_location_in_public_answers(clients, published) -> None:  # noqa: ANN001
    answers = _answers(clients, published)
    for label, (text, _) in answers.items():
        if label.startswith("anon"):
            assert not [p for p in PRECISE_TEXT if p in text], label
    lon, lat = _public_point(clients, published["code"])
    metres = math.hypot((lon - PRECISE[0]) * 111_320 * math.cos(math.radians(lat)),
                        (lat - PRECISE[1]) * 110_574)
    assert 0 < metres < 100
    tile = mapbox_vector_tile.decode(answers["anon tile"][1])
    assert any(f["properties"].get("report_code") == published["code"]
               for layer in tile.values() for f in layer["features"])
    # the internal layer (precise points) does not exist for the public, on any path
    for path, params in (("/collections/citizen.reports/items", {}),
                         ("/collections/citizen.reports", {}),
                         ("/tiles/citizen.reports.json", {}),
                         ("/query/point", {"lon": PRECISE[0], "lat": PRECISE[1],
                                           "layers": "citizen.reports"}),
                         ("/citizen/queue", {}), (f"/citizen/cases/{published['code']}", {})):
        response = clients["anonymous"].get(path, params=params)
        assert response.status_code == 404, (path, response.status_code)


def test_security_category_is_shown_at_the_commune_only(clients) -> None:  # noqa: ANN001
    code = send(clients["anonymous"], 106.8255, 10.9555, category="an_ninh",
                text="Nhóm thanh niên tụ tập gây mất trật tự ban đêm.")["report_code"]
    items = clients["anonymous"].get("/collections/citizen.public_reports/items",
                                     params={"limit": 1000}).json()
    (feature,) = [f for f in items["features"] if f["properties"]["report_code"] == code]
    assert feature["properties"]["location_precision"] == "commune"
    assert feature["geometry"]["coordinates"] == pytest.approx([106.83, 10.95])  # the square's


def test_published_photo_has_no_metadata_and_the_location_stays_inside(clients, published) -> None:  # noqa: ANN001
    response = clients["anonymous"].get(f"/citizen/photos/{published['photo']}.jpg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"PhoneMaker" not in response.content and b"Exif" not in response.content
    (photo,) = published["file"]["photos"]
    assert photo["exif_lon"] == pytest.approx(PRECISE[0], abs=1e-5)
    assert photo["exif_lat"] == pytest.approx(PRECISE[1], abs=1e-5)
    assert photo["exif_taken_at"] == "2026:03:02 08:15:00"


def test_identity_needs_the_pii_right_and_a_purpose_and_is_audited(clients, published,
                                                                  cconn) -> None:  # noqa: ANN001
    path = f"/citizen/cases/{published['code']}/identity"
    assert clients["anonymous"].get(path).status_code == 401
    for who in ("viewer", "analyst", "commune_officer"):
        assert clients[who].get(path, params={"purpose": "muốn biết ai phản ánh"}
                                ).status_code == 403, who
    reader = clients["privacy_officer"]
    assert reader.get(path).status_code == 400  # no purpose
    response = reader.get(path, params={"purpose": "Gọi lại để xác minh vị trí đèn hỏng"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Nguyễn Thị Bí Mật" and body["phone"] == "0912345678"
    assert body["email"] == "bi.mat@example.vn" and len(body["pseudonym"]) == 32
    events = cconn.execute(
        "SELECT actor, details->>'purpose' FROM audit.events WHERE action = "
        "'citizen.identity.read' AND target = %s", (published["code"],)).fetchall()
    assert ("c_privacy_officer", "Gọi lại để xác minh vị trí đèn hỏng") in events
    # The request's own PII note is written by the security middleware once the answer has
    # left (api/security/http.py): wait for it a little.
    import time

    deadline = time.monotonic() + 10
    while not cconn.execute("SELECT count(*) FROM audit.events WHERE action = 'data.read_pii' "
                            "AND actor = 'c_privacy_officer' AND layer = 'citizen.reports'"
                            ).fetchone()[0]:
        assert time.monotonic() < deadline, "no data.read_pii record"
        time.sleep(0.1)


def test_a_reporters_reports_share_a_pseudonym(clients, cconn) -> None:  # noqa: ANN001
    first = send(clients["anonymous"], 106.812, 10.951)["report_code"]
    second = send(clients["anonymous"], 106.813, 10.952, contact={
        "name": "Ai đó", "phone": "+84 912 345 678", "email": ""})["report_code"]
    anonymous = send(clients["anonymous"], 106.814, 10.953, contact={})["report_code"]
    rows = dict(cconn.execute("SELECT report_code, reporter_pseudonym FROM "
                              "citizen_private.cases WHERE report_code = ANY(%s)",
                              ([first, second, anonymous],)).fetchall())
    assert rows[first] == rows[second] and rows[first] is not None
    assert rows[anonymous] is None


def test_a_database_dump_without_the_key_reveals_no_identity(citizen_db_url, published,
                                                              citizen_var) -> None:  # noqa: ANN001
    dump = subprocess.run(["pg_dump", "--no-owner", "--dbname", citizen_db_url],
                          capture_output=True, timeout=300, check=True).stdout.decode()
    assert "citizen_private.identities" in dump and "gAAAAA" in dump  # Fernet tokens are there
    leaked = [s for s in SECRETS if s in dump]
    assert not leaked
    key_file = (citizen_var / "citizen_keys.json").read_text()
    assert oct((citizen_var / "citizen_keys.json").stat().st_mode & 0o777) == "0o600"
    keys = json.loads(key_file)
    assert keys["encryption"][0]["key"] not in dump and keys["pseudonym"] not in dump
    # with another key the tokens do not open
    with psycopg.connect(citizen_db_url) as conn:
        token = conn.execute("SELECT name_enc FROM citizen_private.identities "
                             "WHERE name_enc IS NOT NULL LIMIT 1").fetchone()[0]
    stranger = Keyring(keys=(new_encryption_key("k9"),), pseudonym_key=b"x" * 32, source="test")
    with pytest.raises(ConfigError):
        stranger.decrypt(token)


def test_key_rotation_reencrypts_every_identity(clients, published, citizen_db_url,
                                                 citizen_var) -> None:  # noqa: ANN001
    """`iocgis citizen rotate-key`: a new key, every identity re-encrypted, the old key gone;
    the server picks the new key set up without a restart."""
    import os
    import sys
    from pathlib import Path

    keys_file = citizen_var / "citizen_keys.json"
    before = json.loads(keys_file.read_text())["encryption"]
    command = Path(sys.executable).parent / "iocgis"
    done = subprocess.run([str(command), "citizen", "rotate-key"], capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "DATABASE_URL": citizen_db_url,
                               "IOCGIS_CITIZEN_KEYS_FILE": str(keys_file)})
    assert done.returncode == 0, done.stderr
    after = json.loads(keys_file.read_text())["encryption"]
    assert [k["id"] for k in after] != [k["id"] for k in before] and len(after) == 1
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    with psycopg.connect(citizen_db_url) as conn:
        used = {r[0] for r in conn.execute("SELECT DISTINCT key_id FROM "
                                           "citizen_private.identities")}
    assert used == {after[0]["id"]}
    response = clients["privacy_officer"].get(
        f"/citizen/cases/{published['code']}/identity",
        params={"purpose": "Kiểm tra sau khi đổi khóa"})
    assert response.status_code == 200 and response.json()["name"] == "Nguyễn Thị Bí Mật"


def test_imported_identities_are_sealed(citizen_db_url, citizen_var, clients) -> None:  # noqa: ANN001
    """A file import (the 1022 hotline's) brings names and phones in plaintext columns;
    `iocgis citizen seal-imported` encrypts them and empties the columns."""
    import os
    import sys
    from pathlib import Path

    with psycopg.connect(citizen_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO citizen.reports (report_code, category, content, status, reported_at, "
            "commune_code, reporter_name, reporter_phone, geom) VALUES ('PA-0001022', "
            "'moi_truong', 'Khói bụi từ xưởng, gọi 0987 654 321', 'dang_xu_ly', now(), "
            "'26041', 'Trần Văn Nhập', '0987654321', "
            "ST_SetSRID(ST_MakePoint(106.8111111, 10.9511111), 4326))")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "iocgis"), "citizen", "seal-imported"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "DATABASE_URL": citizen_db_url,
             "IOCGIS_CITIZEN_KEYS_FILE": str(citizen_var / "citizen_keys.json")})
    assert done.returncode == 0 and "1 imported report(s) sealed" in done.stderr, done.stderr
    with psycopg.connect(citizen_db_url) as conn:
        row = conn.execute("SELECT reporter_name, reporter_phone, content FROM citizen.reports "
                           "WHERE report_code = 'PA-0001022'").fetchone()
        assert row[0] is None and row[1] is None and "0987" not in row[2]
        assert conn.execute("SELECT count(*) FROM citizen_private.identities i JOIN "
                            "citizen_private.cases c ON c.id = i.case_id WHERE c.report_code "
                            "= 'PA-0001022'").fetchone()[0] == 1
    dump = subprocess.run(["pg_dump", "--no-owner", "--dbname", citizen_db_url],
                          capture_output=True, timeout=300, check=True).stdout.decode()
    assert "Trần Văn Nhập" not in dump and "0987654321" not in dump
    public = clients["anonymous"].get("/open311/v2/requests/PA-0001022.json").json()[0]
    assert public["status"] == "open" and "106.811111" not in str(public["long"])


def test_links_name_the_public_url_behind_a_proxy(citizen_settings, keys, published) -> None:  # noqa: ANN001
    """The reporter's tracking link and the published photo's link, from the web form and
    Open311, name IOCGIS_PUBLIC_URL: the link a citizen keeps must reach the proxy."""
    with behind_proxy(citizen_settings) as proxied:
        own = str(proxied.base_url).rstrip("/")
        receipt = send(proxied, *IN_WARD)
        assert receipt["tracking_url"].startswith(f"{PUBLIC_URL}/citizen/track/")
        created = proxied.post("/open311/v2/requests.json", data={
            "api_key": keys["app"], "service_code": "moi_truong", "lat": str(IN_WARD[1]),
            "long": str(IN_WARD[0]), "description": "Rác thải đổ trộm ven đường nhiều ngày."})
        assert created.status_code == 200, created.text
        assert created.json()[0]["tracking_url"].startswith(f"{PUBLIC_URL}/citizen/track/")
        one = proxied.get(f"/open311/v2/requests/{published['code']}.json")
        assert one.json()[0]["media_url"] == \
            f"{PUBLIC_URL}/citizen/photos/{published['photo']}.jpg"
        assert own not in one.text and own not in created.text
