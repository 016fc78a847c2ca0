"""Totals from the summaries (``iocgis/summaries.py``, kept by the import swap) equal the exact
statement's, after an import, an append, an upsert and a rollback, for a drawn polygon crossing grid
cells and a commune border, for random circles (and independent SQL) and for the table of
communes, for every caller and for a caller limited to one commune."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import shapely

from iocgis.access import Caller
from iocgis.access.database import reading_on
from iocgis.api.query import allowlist
from iocgis.api.query import summaries as qsummaries
from iocgis.api.query.choropleth import choropleth_statement, parse_aggregates
from iocgis.api.query.context import QueryContext
from iocgis.api.query.handlers import build_queries
from iocgis.api.query.params import Params
from iocgis.api.query.spec import Around, Inside, Selection
from iocgis.api.query.sql import SPHERE_HIGH, SPHERE_LOW, layer_statement, scope_conditions_of
from iocgis.api.query.summaries import summary_statement, units_statement
from iocgis.importers import ImportOptions, import_path
from iocgis.importers.history import rollback
from iocgis.importers.settings import ImportSettings
from iocgis.layers import get_registry
from iocgis.settings import Settings, get_settings
from iocgis.summaries import CELL_BASE, CELL_OFFSET, GRID_DEG, MARGIN_DEG

from ..conftest import scratch_database
from ..importers.importer_fixtures import write_vector

ANALYST = Caller(name="analyst", roles=frozenset({"analyst"}))
ONE_COMMUNE = Caller(name="scoped", roles=frozenset({"analyst"}),
                     commune_codes=frozenset({"26041"}))
USES = ["ODT", "ONT", "CLN", "LUC"]
# An irregular polygon across about 7 x 6 grid cells and the communes' border at 106.83
DRAWN = shapely.Polygon([(106.8013, 10.9031), (106.8370, 10.9007), (106.8391, 10.9322),
                         (106.8208, 10.9288), (106.8046, 10.9355)])
# Random circles over the parcels (and across their edge and the communes' border): centre,
# radius in metres; the smaller ones are asked with the size limit of circles lifted.
_RND = random.Random(20)
CIRCLES = [(_RND.uniform(106.805, 106.835), _RND.uniform(10.905, 10.935), _RND.uniform(700, 2600))
           for _ in range(4)]


def parcels(n_side: int, start: int, use_shift: int = 0) -> tuple[list[Any], dict[str, list]]:
    """A grid of small parcels (some straddling cell edges) and every 37th one large (wider
    than the summaries' margin), commune by longitude, land use and area by number."""
    geoms, fields = [], {"commune_code": [], "sheet_no": [], "parcel_no": [], "land_use": [],
                         "area_m2": []}
    step = 0.0013
    for i in range(n_side):
        for j in range(n_side):
            k = start + i * n_side + j
            x, y = 106.800 + i * step, 10.900 + j * step
            size = 4 * MARGIN_DEG if k % 37 == 0 else 0.0009
            geoms.append(shapely.MultiPolygon([shapely.box(x, y, x + size, y + size)]))
            fields["commune_code"].append("26041" if x < 106.83 else "26042")
            fields["sheet_no"].append(1 + k // 1000)
            fields["parcel_no"].append(1 + k % 1000)
            fields["land_use"].append(USES[(k + use_shift) % 4])
            fields["area_m2"].append(round(800 + (k % 50) * 10.25, 2))
    return geoms, fields


@pytest.fixture(scope="module")
def db(base_settings: Settings) -> Iterator[tuple[str, Settings]]:
    with scratch_database(base_settings, "qsum") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO admin.provinces (code, name, geom) VALUES ('75',"
                         " 'Đồng Nai', ST_Multi(ST_MakeEnvelope(106.3, 10.45, 107.6, 12.35,"
                         " 4326)))")
            for code, west in (("26041", 106.78), ("26042", 106.83)):
                conn.execute("INSERT INTO admin.communes (code, name, type, province_code, geom)"
                             " VALUES (%s, %s, 'Phường', '75', ST_Multi(ST_MakeEnvelope(%s, 10.88,"
                             " %s, 10.98, 4326)))", (code, f"Phường {code}", west, west + 0.05))
        yield url, base_settings.model_copy(update={
            "database_url": url, "imports": ImportSettings(auto_approve=True)})


def load(db: tuple[str, Settings], path: Path, mode: str) -> None:
    url, settings = db
    report = import_path(path, "land.parcels", ImportOptions(mode=mode), url=url,
                         settings=settings)
    assert report.rows_loaded > 0, report


def answers(conn: psycopg.Connection, caller: Caller, group_by: str | None,
            selection: Selection | None = None, offset: int = 0) -> list[tuple[tuple, tuple]]:
    """(summaries, exact) of the drawn polygon's (or ``selection``'s) parcels: count, groups,
    features, fresh."""
    registry = get_registry()
    ctx = QueryContext(SimpleNamespace(registry=registry), caller)  # type: ignore[arg-type]
    values = {"layers": "land.parcels", "limit": "25", "offset": str(offset),
              **({"group_by": group_by} if group_by else {})}
    plans = allowlist.spatial_plans(caller, registry, ["land.parcels"])
    chosen = selection or Inside(shapely.to_wkb(DRAWN))
    (query,) = build_queries(ctx, Params(values, values.keys()), plans, lambda _layer: chosen)
    summary = summary_statement(query)
    assert summary is not None, "the summaries should answer this query"
    exact = layer_statement(query)
    # as the API runs them: under the caller's group role (column grants, row security)
    with reading_on(conn, query.plan, get_settings().security.db_role_prefix):
        return [(conn.execute(summary.query, summary.params).fetchone(),
                 conn.execute(exact.query, exact.params).fetchone())]


def assert_same(summary: tuple, exact: tuple) -> None:
    assert summary[3] is True  # the summaries were fresh: they answered
    assert summary[0] == exact[0] > 0
    ours, theirs = json.loads(summary[1]), json.loads(exact[1])
    assert [g["key"] for g in ours] == [g["key"] for g in theirs]
    for mine, other in zip(ours, theirs):
        for name in ("count", "sum", "true_count"):
            assert mine.get(name) == other.get(name), (name, mine, other)
        assert mine["measured_area_m2"] == pytest.approx(other["measured_area_m2"], abs=0.011)
        for field, value in other["avg"].items():
            assert mine["avg"][field] == pytest.approx(value, rel=1e-12)
    assert json.loads(summary[2]) == json.loads(exact[2])  # the same page of features


def check(db: tuple[str, Settings], circles: bool = False) -> None:
    with psycopg.connect(db[0], autocommit=True) as conn:
        deep = conn.execute(
            "SELECT count(*) FROM generate_series(0, 20) i, generate_series(0, 20) j"
            " WHERE ST_CoveredBy(ST_MakeEnvelope(106.8 + i * %(g)s - %(m)s, 10.9 + j * %(g)s"
            " - %(m)s, 106.8 + (i + 1) * %(g)s + %(m)s, 10.9 + (j + 1) * %(g)s + %(m)s, 4326),"
            " ST_GeomFromText(%(wkt)s, 4326))",
            {"g": GRID_DEG, "m": MARGIN_DEG, "wkt": DRAWN.wkt}).fetchone()[0]
        assert deep >= 4  # cells the polygon covers: their totals come from the summaries
        for caller in (ANALYST, ONE_COMMUNE):
            for group_by in ("commune_code", "land_use", None):
                for summary, exact in answers(conn, caller, group_by):
                    assert_same(summary, exact)
        if circles:  # the circle logic once on fresh summaries, once after changes
            check_circles(conn)
        scoped = json.loads(answers(conn, ONE_COMMUNE, "commune_code")[0][0][1])
        assert [g["key"] for g in scoped] == ["26041"]
        for caller in (ANALYST, ONE_COMMUNE):  # the choropleth: one row per commune
            ours, exact = communes_table(conn, caller)
            assert [r[:4] for r in ours] == [r[:4] for r in exact]  # code, name, count, sum
            assert sum(r[2] for r in ours) > 0
            for mine, other in zip(ours, exact):
                assert mine[4] == (None if other[4] is None else pytest.approx(other[4],
                                                                                rel=1e-12))
                assert mine[5] == pytest.approx(other[5], abs=0.011)


def independent_circle(conn: psycopg.Connection, caller: Caller, group_by: str | None,
                       lon: float, lat: float, radius: float) -> list[tuple]:
    """Per group: count, sum of area_m2 and geodesic area of the parcels within the radius,
    by ST_Distance on the spheroid (not the query API's sphere-then-spheroid test)."""
    key = group_by or "NULL"
    scope = " AND commune_code = ANY(%(communes)s)" if caller.commune_codes else ""
    return conn.execute(
        f"SELECT {key}, count(*), sum(area_m2), sum(ST_Area(geom::geography)) FROM land.parcels"
        " WHERE ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
        f"::geography) <= %(r)s{scope} GROUP BY 1 ORDER BY 1 NULLS LAST",
        {"lon": lon, "lat": lat, "r": radius,
         "communes": sorted(caller.commune_codes or ())}).fetchall()


def check_circles(conn: psycopg.Connection) -> None:
    """Circles from the summaries equal the exact statement (groups, page) and independent SQL."""
    covered = 0
    for n, (lon, lat, radius) in enumerate(CIRCLES):
        covered += len(qsummaries.circle_cells(lon, lat, radius)[0])
        for caller, group_by in ((ANALYST, "commune_code"), (ANALYST, None),
                                 (ONE_COMMUNE, "commune_code")):
            (summary, exact), = answers(conn, caller, group_by, Around(lon, lat, radius),
                                        offset=10 * n)
            assert_same(summary, exact)
            expected = independent_circle(conn, caller, group_by, lon, lat, radius)
            groups = json.loads(summary[1])
            assert [(g["key"], g["count"]) for g in groups] == [r[:2] for r in expected]
            for group, row in zip(groups, expected):
                assert group["sum"]["area_m2"] == pytest.approx(float(row[2]), abs=1e-6)
                assert group["measured_area_m2"] == pytest.approx(row[3], abs=0.011)
    assert covered >= 10  # the circles cover cells: their totals come from the summaries


def communes_table(conn: psycopg.Connection, caller: Caller) -> tuple[list, list]:
    """(from the summaries, exact) rows of /query/admin?level=commune&layer=land.parcels."""
    registry = get_registry()
    units = registry.admin_layer("commune")
    (plan,) = allowlist.spatial_plans(caller, registry, ["land.parcels"])
    aggregates = parse_aggregates(plan, ["count", "sum:area_m2", "avg:area_m2", "area"])
    summed = units_statement(units, plan, aggregates, "75", False, "commune_code", False)
    assert summed is not None
    exact = choropleth_statement(units, plan.layer, aggregates, scope_conditions_of(plan), "75",
                                 with_geometry=False, by_field="commune_code")
    # numeric -> float, as the endpoint answers
    return [[tuple(float(v) if isinstance(v, Decimal) else v for v in row)
             for row in conn.execute(*st).fetchall()] for st in (summed, exact)]


def test_summaries_equal_exact_totals_after_import_append_upsert_and_rollback(
        db: tuple[str, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qsummaries, "MIN_CIRCLE_CELLS", 0)  # circles of any size (see CIRCLES)
    # a region's page looked for among the first fids even for these few parcels
    monkeypatch.setattr(qsummaries, "PAGE_SORT_ROWS", 0)
    monkeypatch.setattr(qsummaries, "_TEMPLATES", {})
    load(db, write_vector(tmp_path / "first.gpkg", *parcels(30, 0)), "replace")
    check(db, circles=True)
    # append: more parcels (other numbers) on the same ground
    more, fields = parcels(12, 5000)
    more = [shapely.affinity.translate(g, 0.0004, 0.0005) for g in more]
    load(db, write_vector(tmp_path / "more.gpkg", more, fields), "append")
    check(db)
    # upsert: the first import's parcels again with other land uses
    load(db, write_vector(tmp_path / "again.gpkg", *parcels(30, 0, use_shift=1)), "upsert")
    check(db)
    rollback("land.parcels", url=db[0], user="test")  # back to before the upsert
    check(db, circles=True)
    # a region's page when too few of its features are among the layer's first fids: sorted
    monkeypatch.setattr(qsummaries, "PAGE_PROBE_ROWS", 30)
    monkeypatch.setattr(qsummaries, "_TEMPLATES", {})
    check(db)  # (and as a region matching few features is answered: they are all sorted)
    with psycopg.connect(db[0], autocommit=True) as conn:
        conn.execute("UPDATE meta.layers SET data_version = data_version + 1"
                     " WHERE id = 'land.parcels'")  # a write the summaries have not seen
        (summary, _), = answers(conn, ANALYST, None)
        assert summary[3] is False  # stale: the engine asks the exact statement instead


def test_circle_cells_cover_only_cells_inside_and_miss_no_reachable_one(
        db: tuple[str, Settings]) -> None:
    """``circle_cells`` against PostGIS on random circles: every covered cell's grown box lies
    within the radius (its corners, on the spheroid and on the sphere with the margin the exact
    statement trusts), no cell left out could hold a match (sphere distance within
    r / SPHERE_LOW), and a covered cell is not left to the exact pass needlessly."""
    rnd = random.Random(5)
    rows = []
    for _ in range(40):
        lon, lat, radius = rnd.uniform(106.3, 107.6), rnd.uniform(10.5, 12.3), rnd.uniform(300, 8000)
        deep, edge_i, edge_j = qsummaries.circle_cells(lon, lat, radius)
        edge = {(i, j) for i, j in zip(edge_i, edge_j)}
        span = radius / 100_000 + 0.02
        for i in range(int((lon - span) // GRID_DEG), int((lon + span) // GRID_DEG) + 1):
            for j in range(int((lat - span) // GRID_DEG), int((lat + span) // GRID_DEG) + 1):
                cell = (i + CELL_OFFSET) * CELL_BASE + j + CELL_OFFSET
                kind = "deep" if cell in deep else "edge" if (i, j) in edge else "out"
                rows.append((lon, lat, radius, i, j, kind))
    with psycopg.connect(db[0], autocommit=True) as conn:
        bad = conn.execute(
            "WITH c AS (SELECT * FROM unnest(%s::float8[], %s::float8[], %s::float8[], %s::int[],"
            " %s::int[], %s::text[]) c(lon, lat, r, i, j, kind)),"
            " d AS (SELECT c.*, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS p,"
            " ST_MakeEnvelope(i * %s - %s, j * %s - %s, (i + 1) * %s + %s, (j + 1) * %s + %s,"
            " 4326) AS box FROM c),"
            " m AS (SELECT d.*, (SELECT max(ST_Distance(q.geom::geography, p)) FROM"
            " ST_DumpPoints(box) q) AS far, (SELECT max(ST_Distance(q.geom::geography, p, false))"
            " FROM ST_DumpPoints(box) q) AS far_sphere, ST_Distance(box::geography, p, false)"
            " AS near FROM d)"
            " SELECT kind, count(*) FILTER (WHERE kind = 'deep' AND (far > r OR far_sphere"
            " > r / %s)), count(*) FILTER (WHERE kind = 'out' AND near <= r / %s),"
            " count(*) FILTER (WHERE kind <> 'deep' AND far_sphere < r / %s * 0.9999),"
            " count(*) FROM m GROUP BY kind ORDER BY kind",
            [[r[k] for r in rows] for k in range(6)] + [GRID_DEG, MARGIN_DEG] * 4
            + [SPHERE_HIGH, SPHERE_LOW, SPHERE_HIGH]).fetchall()
    counts = {kind: (wrong_deep, missed, needless, n) for kind, wrong_deep, missed, needless, n in bad}
    assert counts["deep"][0] == 0 and counts["deep"][3] > 1000
    assert counts["out"][1] == 0 and counts["edge"][3] > 500
    assert counts["edge"][2] == 0 and counts["out"][2] == 0
