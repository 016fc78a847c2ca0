"""Houses are points with footprints (issue 13 item 1): OGC API items answer with the position
by default and with the footprint on ``geometry=footprint``; other layers refuse the parameter."""

from __future__ import annotations

import httpx
import psycopg
import shapely
from shapely.geometry import shape

ITEMS = "/collections/housing.houses/items"


def test_items_give_the_position_and_on_request_the_footprint(analyst: httpx.Client,
                                                              qconn: psycopg.Connection) -> None:
    positions = analyst.get(ITEMS, params={"limit": 3, "house_id": "H0021"})
    assert positions.status_code == 200, positions.text
    (feature,) = positions.json()["features"]
    assert feature["geometry"]["type"] == "Point"
    outlines = analyst.get(ITEMS, params={"limit": 3, "house_id": "H0021",
                                          "geometry": "footprint"})
    assert outlines.status_code == 200, outlines.text
    (outline,) = outlines.json()["features"]
    stored = shapely.from_wkb(bytes(qconn.execute(
        "SELECT ST_AsBinary(footprint) FROM housing.houses WHERE house_id = 'H0021'"
    ).fetchone()[0]))
    assert shape(outline["geometry"]).equals_exact(stored, 1e-7)
    assert shape(outline["geometry"]).contains(shape(feature["geometry"]))
    assert any("geometry=footprint" in link["href"] for link in outlines.json()["links"]
               if link["rel"] == "self")
    one = analyst.get(f"{ITEMS}/{feature['id']}", params={"geometry": "footprint"})
    assert one.status_code == 200 and shape(one.json()["geometry"]).equals_exact(stored, 1e-7)


def test_geometry_parameter_is_checked(analyst: httpx.Client) -> None:
    wrong = analyst.get(ITEMS, params={"geometry": "outline"})
    assert wrong.status_code == 400 and "geometry=footprint" in wrong.text
    other = analyst.get("/collections/land.parcels/items", params={"geometry": "footprint"})
    assert other.status_code == 400 and "unknown parameter 'geometry'" in other.text
