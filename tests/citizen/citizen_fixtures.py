"""The citizen tests' small world: two communes sharing a boundary (a ward and a commune), and
what the tests send."""

from __future__ import annotations

import io

import psycopg
from PIL import Image

# Two squares side by side; their shared edge is the meridian 106.82.
WARD, COMMUNE = "26041", "26068"
WARD_NAME, COMMUNE_NAME = "Phường Trấn Biên", "Xã Long Hưng"
EDGE_LON = 106.82
COMMUNES = (
    (WARD, WARD_NAME, "Phường", (106.80, 10.94, EDGE_LON, 10.96)),
    (COMMUNE, COMMUNE_NAME, "Xã", (EDGE_LON, 10.94, 106.84, 10.96)),
)
IN_WARD = (106.8105, 10.9512)
IN_COMMUNE = (106.8302, 10.9488)
ON_EDGE = (EDGE_LON, 10.95)
OUTSIDE = (106.90, 10.95)

# What identifies the reporter: must never appear in a public or non-PII answer.
REPORTER = {"name": "Nguyễn Thị Bí Mật", "phone": "0912 345 678", "email": "bi.mat@example.vn"}
SECRETS = ("Nguyễn Thị Bí Mật", "0912345678", "0912 345 678", "bi.mat@example.vn")


def load(conn: psycopg.Connection) -> None:
    for code, name, kind, (x0, y0, x1, y1) in COMMUNES:
        conn.execute(
            "INSERT INTO admin.communes (code, name, type, province_code, geom) VALUES "
            "(%s, %s, %s, '75', ST_Multi(ST_MakeEnvelope(%s, %s, %s, %s, 4326)))",
            (code, name, kind, x0, y0, x1, y1))


def _rational(value: float) -> tuple:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (degrees, minutes, seconds)


def photo_with_gps(lon: float, lat: float, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A JPEG whose EXIF holds a GPS position, a camera and a time (what phones write)."""
    image = Image.new("RGB", size, (200, 120, 40))
    for x in range(0, size[0], 40):  # some structure, so it is not a flat colour
        image.paste((30, 90, 160), (x, 0, x + 20, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8769] = {0x9003: "2026:03:02 08:15:00"}  # Exif IFD: DateTimeOriginal
    exif[0x8825] = {1: "N", 2: _rational(lat), 3: "E", 4: _rational(lon)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()
