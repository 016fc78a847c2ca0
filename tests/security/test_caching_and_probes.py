"""What caches may keep, and probes of hidden layers in the audit trail.

Every answer varies by who asks (``Vary: Authorization, X-API-Key``), so a browser never hands
one caller's copy to another; answers that read restricted layers or personal data are kept by
no cache; signed-in tiles of internal layers only briefly by the caller's own browser. A
scanner probing a hidden layer leaves one audit record per window, not one per request.
"""

from __future__ import annotations

import httpx
import psycopg

from .security_helpers import audit_actions, bearer, insert_sample, login
from .test_matrix import LAT, LON, _tile_xy


def _vary(response: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in response.headers.get("vary", "").split(",")}


def test_every_answer_varies_by_the_caller(live_server, role_headers) -> None:  # noqa: ANN001
    x, y = _tile_xy(14)
    for path in ("/tiles/basemap.json", f"/tiles/basemap/14/{x}/{y}.mvt", "/collections",
                 "/collections/admin.communes/items", "/styles/basemap.json", "/scenarios"):
        for role in ("anonymous", "viewer"):
            response = httpx.get(live_server.url + path, headers=role_headers[role], timeout=60)
            assert response.status_code in (200, 204), (path, role, response.text[:200])
            assert {"authorization", "x-api-key"} <= _vary(response), (path, role)
    tile = httpx.get(f"{live_server.url}/tiles/basemap/14/{x}/{y}.mvt", timeout=60)
    assert "accept-encoding" in _vary(tile)  # the tile's own Vary is kept


def test_restricted_and_personal_answers_are_not_stored(live_server, role_accounts,
                                                       role_headers, db_url) -> None:  # noqa: ANN001
    with psycopg.connect(db_url, autocommit=True) as conn:
        insert_sample(conn, "land.parcels", sheet_no=9301, holder_name="Đỗ Không Lưu")
        insert_sample(conn, "infra.substations", geom=f"POINT({LON} {LAT})")
    admin = bearer(login(live_server.url, role_accounts["admin"], db_url)["access_token"])
    named = httpx.get(f"{live_server.url}/collections/land.parcels/items",
                      params={"sheet_no": 9301}, headers=admin, timeout=60)
    assert "Đỗ Không Lưu" in named.text
    assert named.headers["cache-control"] == "private, no-store"
    x, y = _tile_xy(14)
    restricted = httpx.get(f"{live_server.url}/tiles/infrastructure/14/{x}/{y}.mvt",
                           headers=role_headers["gis_officer"], timeout=60)
    assert restricted.status_code in (200, 204)
    assert restricted.headers["cache-control"] == "private, no-store"
    internal = httpx.get(f"{live_server.url}/tiles/land/14/{x}/{y}.mvt",
                         headers=role_headers["viewer"], timeout=60)
    assert internal.headers["cache-control"].startswith("private, max-age=")
    public = httpx.get(f"{live_server.url}/tiles/basemap/14/{x}/{y}.mvt", timeout=60)
    assert public.headers["cache-control"].startswith("public, max-age=")


def test_repeated_probes_of_a_hidden_layer_leave_one_record(live_server, db_url) -> None:  # noqa: ANN001
    layer = "housing.houses"  # internal: hidden from anonymous callers

    def anonymous_probes() -> list[tuple]:
        return [e for e in audit_actions(db_url, layer=layer, action="data.hidden_layer")
                if e[2] == "anonymous"]

    assert anonymous_probes() == [], "another test probed this layer anonymously first"
    for path in ("items", "items", "queryables", "items", "", "items"):
        refused = httpx.get(f"{live_server.url}/collections/{layer}/{path}".rstrip("/"),
                            timeout=60)
        assert refused.status_code == 404
        assert "housing" not in refused.text.replace(layer, "")  # nothing beyond the echo
    probes = anonymous_probes()
    assert len(probes) == 1, probes  # recorded once in the window, not six times
    assert probes[0][1] == "denied"
