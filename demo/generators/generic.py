"""Demo rows for a registry layer no dedicated generator knows yet (a province added it):
a few features per commune, every field from its registry definition."""

from __future__ import annotations

import numpy as np
import shapely

from iocgis.demo.context import DemoContext
from iocgis.demo.table import FeatureTable

PER_COMMUNE = 3


def produce_generic(ctx: DemoContext, layer_id: str) -> FeatureTable:
    layer = ctx.layer(layer_id)
    rng = ctx.rng(f"generic/{layer_id}")
    comm = ctx.communes
    counts = np.full(len(comm), PER_COMMUNE)
    xy, idx = ctx.points_in_communes(rng, counts)
    columns: dict[str, np.ndarray] = {}
    if layer.has_field("commune_code"):
        columns["commune_code"] = comm.codes[idx]
    if not layer.is_spatial:
        return ctx.table(layer_id, columns)
    if layer.geometry in ("Point", "MultiPoint"):
        geoms = shapely.points(xy)
    elif layer.geometry == "MultiLineString":
        ends = xy + rng.normal(0, 150, xy.shape)
        geoms = shapely.linestrings(np.stack([xy, ends], axis=1))
    else:
        half = rng.uniform(10, 40, (len(xy), 1))
        geoms = shapely.box(
            xy[:, 0] - half[:, 0],
            xy[:, 1] - half[:, 0],
            xy[:, 0] + half[:, 0],
            xy[:, 1] + half[:, 0],
        )
    # Keep only what lies inside its commune (a line may cross a border).
    keep = shapely.within(geoms, comm.polygons[idx])
    return ctx.table(layer_id, {k: v[keep] for k, v in columns.items()}, geoms[keep])
