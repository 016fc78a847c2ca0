"""Small helpers of the citizen tests."""

from __future__ import annotations

import httpx

from .citizen_fixtures import REPORTER


def send(client: httpx.Client, lon: float, lat: float, category: str = "trat_tu_do_thi",
         text: str = "Lấn chiếm vỉa hè buôn bán, người đi bộ phải xuống lòng đường.",
         photos: list[bytes] | None = None, contact: dict | None = None) -> dict:
    """Submit through the public form's endpoint; returns the receipt."""
    data = {"category": category, "text": text, "lon": str(lon), "lat": str(lat),
            "location_source": "map", **(REPORTER if contact is None else contact)}
    files = [("photos", (f"anh{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos or [])]
    response = client.post("/uploads/citizen/reports", data=data, files=files or None)
    assert response.status_code == 201, response.text
    return response.json()


def step(client: httpx.Client, code: str, **body: str) -> httpx.Response:
    return client.post(f"/citizen/cases/{code}/transitions", json=body)


def token_of(receipt: dict) -> str:
    return receipt["tracking_url"].rsplit("/", 1)[1]
