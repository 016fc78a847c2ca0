"""Metres and degrees near the ground: the one rule for boxes that must hold a distance.

A bounding box in degrees that contains every point within ``metres`` of a place lets the
GiST index on ``geom`` (EPSG:4326) pick candidates before a geodesic test decides. Degrees of
latitude are at least ``M_PER_DEG_LAT_MIN`` metres long; a degree of longitude shrinks with
the cosine of the latitude, so the box uses the most poleward latitude it reaches.
"""

from __future__ import annotations

import math

from psycopg import sql

M_PER_DEG_LAT_MIN = 110_574.0  # at the equator: the shortest degree of latitude
M_PER_DEG_LON_EQ = 111_320.0  # a degree of longitude at the equator
MARGIN = 1.01  # a box a little larger than strictly needed, never smaller


def expansion(lat: float, metres: float) -> tuple[float, float]:
    """Degrees (dx, dy) such that the box around a point at ``lat`` holds its circle."""
    dy = metres / M_PER_DEG_LAT_MIN * MARGIN + 1e-7
    top = min(abs(lat) + dy, 89.0)
    dx = metres / (M_PER_DEG_LON_EQ * math.cos(math.radians(top))) * MARGIN + 1e-7
    return dx, dy


def min_metres_per_degree(lat: float, reach_deg: float) -> float:
    """Metres a degree (in any direction, lon/lat taken as a plane) is at least long within
    ``reach_deg`` of latitude ``lat``, with 1 % to spare: a feature ``p`` degrees away in the
    plane is at least ``p`` times this many metres away on the spheroid."""
    top = min(abs(lat) + reach_deg, 89.0)
    return min(M_PER_DEG_LAT_MIN, M_PER_DEG_LON_EQ * math.cos(math.radians(top))) * 0.99


def expansion_sql(metres: sql.Composable, geom: sql.Composable) -> sql.Composable:
    """The same rule in SQL, for a geometry known only to the database (a CQL2 literal or
    column): degrees of longitude to expand its box by, at its most poleward latitude."""
    return sql.SQL(
        "({d} * {margin} / ({lon_eq} * GREATEST(cos(radians(LEAST(89.0, GREATEST("
        "abs(ST_YMin({g})), abs(ST_YMax({g}))) + {d} / {lat}))), 0.001)))").format(
        d=metres, g=geom, margin=sql.Literal(MARGIN), lon_eq=sql.Literal(M_PER_DEG_LON_EQ),
        lat=sql.Literal(M_PER_DEG_LAT_MIN))
