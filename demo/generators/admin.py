"""Administrative units: the province (code 75) and its 95 communes (approximate polygons)."""

from __future__ import annotations

import numpy as np

from iocgis.demo import reference
from iocgis.demo.context import DemoContext
from iocgis.demo.table import FeatureTable


def produce_provinces(ctx: DemoContext) -> FeatureTable:
    centre = ctx.communes.names[ctx.communes.index(reference.ADMIN_CENTRE_CODE)]
    return ctx.table(
        "admin.provinces",
        {
            "code": [reference.PROVINCE_CODE],
            "name": [reference.PROVINCE_NAME],
            "admin_center": [str(centre)],
            "area_km2": [reference.PROVINCE_AREA_KM2],
            "population": np.array([reference.PROVINCE_POPULATION], dtype=np.int64),
        },
        [ctx.outline],
    )


def produce_communes(ctx: DemoContext) -> FeatureTable:
    comm = ctx.communes
    n = len(comm)
    return ctx.table(
        "admin.communes",
        {
            "code": comm.codes,
            "name": comm.names,
            "type": comm.types,
            "province_code": np.full(n, reference.PROVINCE_CODE, dtype=object),
            "area_km2": comm.area_km2,
            "population": comm.population,
            "approximate": np.ones(n, dtype=bool),
        },
        comm.polygons,
    )
