"""The stored QGIS projects, the way a user sees them: each role's project opened in headless
QGIS 3.22 (Debian's python3-qgis under the system python3) as that role's database login,
over the small Đồng Nai demo, and rendered to PNG over Biên Hòa and the whole province
(test-artifacts/qgis_<role>_<view>.png), and with each theme group ticked in turn, in the
view the web map opens that theme with (qgis_<role>_<theme>.png)."""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import psycopg
import pytest
from psycopg import sql

from iocgis.access import ROLE_RIGHTS, Caller, visible_layers
from iocgis.demo.build import build_demo
from iocgis.demo.load import load_demo
from iocgis.layers import LayerDef, get_registry
from iocgis.roles import dbroles, qgis
from iocgis.roles.qgis_project import group_name, layer_id, project_name, theme_groups
from iocgis.settings import Settings
from iocgis.styles import get_themes, qml_for
from iocgis.styles.model import Theme
from iocgis.styles.qml import scale_of

from ..conftest import scratch_database
from .security_helpers import ROOT, _create, run_async

SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = ROOT / "tests/security/qgis_probe.py"
BIEN_HOA = (106.79, 10.92, 106.86, 10.98)  # about 7.6 km by 6.6 km around the city centre
SIZE = {"bienhoa": [1200, 1000], "province": [1000, 1400], "theme": [1200, 1000]}


@pytest.fixture(scope="module")
def demo_db(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own with the small demo loaded, roles synced, projects published."""
    with scratch_database(base_settings, "qgisrender") as url:
        directory = tmp_path_factory.mktemp("qgis-demo")
        build_demo("small", directory)
        assert all(result.ok for result in load_demo(directory, url=url))
        security = base_settings.security
        with psycopg.connect(url, autocommit=True) as conn:
            dbroles.sync(conn, get_registry(), security)
            qgis.publish(conn, get_registry(), security)
        yield url


@pytest.fixture(scope="module")
def role_logins(demo_db: str, base_settings: Settings) -> Iterator[dict[str, str]]:
    """A database login per app role (dropped at the end: roles belong to the cluster)."""
    security = base_settings.security
    logins: dict[str, str] = {}
    with psycopg.connect(demo_db, autocommit=True) as conn:
        for role in ROLE_RIGHTS:
            name = f"qgisr{role.replace('_', '')}{os.getpid()}"
            run_async(_create(demo_db, base_settings, name, [role]))
            login, password = dbroles.open_login(conn, security, name)
            parts = urlsplit(demo_db)
            logins[role] = (f"[iocgis]\nhost={parts.hostname}\nport={parts.port}\n"
                            f"dbname={parts.path[1:]}\nuser={login}\npassword={password}\n"
                            "sslmode=disable\n")
    yield logins
    with psycopg.connect(demo_db, autocommit=True) as conn:
        for role in ROLE_RIGHTS:
            login = sql.Identifier(dbroles.login_role(
                security, f"qgisr{role.replace('_', '')}{os.getpid()}"))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(login))
            conn.execute(sql.SQL("DROP ROLE {}").format(login))


def _visible(role: str) -> list[LayerDef]:
    caller = Caller(name=role, roles=frozenset({role}))
    return [layer for layer in visible_layers(caller, get_registry()) if layer.is_spatial]


def _masked(role: str, layer: LayerDef) -> bool:
    return dbroles.needs_mask(layer) and not ROLE_RIGHTS[role]["pii"]


def _browser_uri(role: str, layer: LayerDef) -> str:
    """The datasource the QGIS Browser builds for a table (or masked view) it lists."""
    schema, table = ((dbroles.MASKED_SCHEMA, dbroles.masked_view_name(layer))
                     if _masked(role, layer) else (layer.schema_name, layer.table_name))
    return (f"service='iocgis' key='fid' srid=4326 type={layer.geometry} "
            f'table="{schema}"."{table}" (geom)')


def _theme_view(conn: psycopg.Connection, theme: Theme, members: list[LayerDef]) -> list[float]:
    """A render extent (SIZE["theme"]) at the zoom the web map opens the theme with, centred
    where the theme's top layer is densest around Biên Hòa (the demo's houses and parcels lie
    in a few wards, not always at the theme's own centre)."""
    assert theme.zoom is not None
    centre = None
    for layer in members:
        centre = centre or conn.execute(sql.SQL(
            "WITH f AS (SELECT ST_PointOnSurface(geom) AS p FROM {t} "
            "WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)) "
            "SELECT ST_X(p), ST_Y(p) FROM f ORDER BY (SELECT count(*) FROM f AS g "
            "WHERE ST_DWithin(g.p, f.p, 0.005)) DESC, ST_X(p), ST_Y(p) LIMIT 1").format(
            t=sql.Identifier(layer.schema_name, layer.table_name)), BIEN_HOA).fetchone()
    assert centre, f"the demo has no {theme.name} features around Biên Hòa"
    lon, lat = centre
    metres = scale_of(theme.zoom) * 0.0254 / 96  # per pixel at 96 dpi
    width, height = SIZE["theme"]
    dx = metres * width / 2 / (111_320 * math.cos(math.radians(lat)))
    dy = metres * height / 2 / 110_574
    return [lon - dx, lat - dy, lon + dx, lat + dy]


def _province_view(conn: psycopg.Connection) -> list[float]:
    xmin, ymin, xmax, ymax = qgis.province_extent(conn, get_registry())
    pad = 0.02
    return [xmin - pad, ymin - pad, xmax + pad, ymax + pad]


def _probe(request: dict, service: str, workdir: Path) -> tuple[dict, str]:
    conf = workdir / "pg_service.conf"
    conf.write_text(service)
    conf.chmod(0o600)
    runtime = workdir / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PGSERVICEFILE": str(conf),
           "XDG_RUNTIME_DIR": str(runtime), "HOME": str(workdir)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([SYSTEM_PYTHON, str(PROBE), json.dumps(request)], check=False,
                          capture_output=True, text=True, env=env, timeout=600, cwd=workdir)
    line = next((x for x in done.stdout.splitlines() if x.startswith("QGIS-PROBE ")), None)
    assert line, f"QGIS probe failed ({done.returncode}): {done.stderr[-3000:]}"
    return json.loads(line[len("QGIS-PROBE "):]), done.stderr


def _tree_layers(nodes: list[dict]) -> list[dict]:
    out = []
    for node in nodes:
        out += _tree_layers(node["children"]) if "group" in node else [node]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLE_RIGHTS))
def test_each_role_project_renders_as_a_map(role, demo_db, role_logins, artifacts_dir,
                                            tmp_path) -> None:
    themes = get_themes()
    visible = _visible(role)
    groups = theme_groups(themes, visible)
    base_group = next(group_name(t) for t, _ in groups if t.extends is None)
    theme_names = [group_name(t) for t, _ in groups if t.extends is not None]
    with psycopg.connect(demo_db, autocommit=True) as conn:
        province = _province_view(conn)
        theme_views = {theme.name: _theme_view(conn, theme, members)
                       for theme, members in groups if theme.extends is not None}
        rows = {layer.id: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(layer.schema_name, layer.table_name))).fetchone()[0]
            for layer in visible}

    def path(view: str) -> str:
        return str(artifacts_dir / f"qgis_{role}_{view}.png")

    renders = [{"name": "bienhoa", "extent": list(BIEN_HOA), "size": SIZE["bienhoa"],
                "path": path("bienhoa")},
               {"name": "province", "extent": province, "size": SIZE["province"],
                "path": path("province")}]
    for theme, _ in groups:
        if theme.extends is not None:  # at the zoom the web map opens the theme with
            view = {"extent": theme_views[theme.name], "size": SIZE["theme"]}
            renders.append({"name": f"{theme.name}_base", "path": str(tmp_path / "base.png"),
                            **view})
            renders.append({"name": theme.name, "path": path(theme.name),
                            "compare_to": f"{theme.name}_base",
                            "switch_on": [group_name(theme)], **view})
    request = {"project": f"postgresql:?service=iocgis&schema=public&project={project_name(role)}",
               "renders": renders}
    seen, log = _probe(request, role_logins[role], tmp_path)
    project = seen["project"]
    # The Browser's tables in a QGIS of their own (their NULL jsonb still logs, see README).
    tables, _ = _probe({"tables": [_browser_uri(role, layer) for layer in visible]},
                       role_logins[role], tmp_path)

    # The project opens with its CRS, every layer present under its own stable id, valid.
    assert project["read"] and project["crs"] == "EPSG:4326"
    leaves = _tree_layers(project["tree"])
    assert not [leaf["name"] for leaf in leaves if leaf["orphan"]]
    # a layer with footprints is two project layers: its positions and its footprints
    ids = {layer_id(layer) for layer in visible} | {
        layer_id(layer) + "_footprint" for layer in visible if layer.footprint}
    assert {leaf["layer"] for leaf in leaves} == ids
    assert all(len(leaf["layer"]) > 10 for leaf in leaves)
    layers = {layer["id"]: layer for layer in project["layers"]}
    assert set(layers) == ids
    assert not [layer["name"] for layer in layers.values() if not layer["valid"]]

    # Groups mirror the web map's themes: the base map on, every other theme off.
    tree = {node["group"]: node for node in project["tree"] if "group" in node}
    assert list(tree) == [*theme_names, base_group]
    assert tree[base_group]["checked"] and not any(tree[n]["checked"] for n in theme_names)
    # Boundaries at the bottom, drawn as outlines.
    base_order = [leaf["layer"] for leaf in tree[base_group]["children"]]
    boundaries = [layer_id(layer) for layer in visible if layer.admin_level]
    assert set(base_order[-len(boundaries):]) == set(boundaries)
    assert project["order"][-len(boundaries):] == base_order[-len(boundaries):]

    for layer in visible:
        shown = layers[layer_id(layer)]
        # Every row readable with every attribute, as the attribute table reads them.
        assert shown["features"] == shown["fetched"] == rows[layer.id], layer.id
        qml = ET.fromstring(qml_for(layer.id).encode())
        assert shown["style"]["renderer"] == qml.find("renderer-v2").get("type"), layer.id
        assert shown["style"]["labels"] == (qml.find("labeling") is not None), layer.id
        assert not [e for e in shown["expressions"] if e["error"]], layer.id
        if _masked(role, layer):
            assert all(row[f] is None for row in shown["rows"] for f in layer.pii_fields)
        if layer.footprint:
            outlines = layers[layer_id(layer) + "_footprint"]
            footprint_qml = ET.fromstring(qml_for(layer.id, column="footprint").encode())
            assert outlines["style"]["renderer"] == footprint_qml.find("renderer-v2").get("type")
            assert outlines["fetched"] == rows[layer.id], layer.id
    # A NULL jsonb is not a warning per feature (QGIS 3.22 cannot parse an empty value).
    assert "Cannot parse json" not in log

    # Tables opened from the Browser get the same style, from layer_styles.
    for layer, table in zip(visible, tables["tables"], strict=True):
        assert table["valid"], layer.id
        assert table["style"] == layers[layer_id(layer)]["style"], layer.id

    views = {render["name"]: render for render in seen["renders"]}
    for render in views.values():
        assert not render["errors"], render["name"]
        assert render["colours"] >= 50 and render["background_share"] < 0.97, render["name"]
        assert Path(render["path"]).stat().st_size > 10_000
    base_ids = {layer_id(layer) for _, members in groups[-1:] for layer in members}
    assert set(views["province"]["layers"]) == base_ids
    communes = next(layer for layer in visible if layer.admin_level == "commune")
    with psycopg.connect(demo_db, autocommit=True) as conn:
        commune_count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(communes.schema_name, communes.table_name))).fetchone()[0]
    # Commune names show across the province (24 of 95 did when communes were obstacles).
    assert views["province"]["labels"].get(layer_id(communes), 0) >= 0.85 * commune_count
    city = views["bienhoa"]["labels"]
    for layer_name, least in (("admin.communes", 3), ("base.places", 3), ("base.roads", 8)):
        assert city.get(layer_id(get_registry().get(layer_name)), 0) >= least, (layer_name, city)
    # Ticking a theme draws its layers over the base map (in the theme's own view).
    for theme, members in groups:
        if theme.extends is None:
            continue
        view = views[theme.name]
        assert {layer_id(m) for m in members} <= set(view["layers"]), theme.name
        assert view["difference"] > 0.001, (theme.name, view["difference"])
