"""The queryables document (Features Part 3) as this server means it.

pygeoapi writes it with the 2019-09 ``http://`` schema URI, titles equal to the property names
and a ``geometry`` queryable even for collections without geometry. Here it gets the JSON
Schema 2020-12 URI Part 3 names, the registry's Vietnamese titles (English in the
description), no geometry where there is none, and ``additionalProperties: false``: a filter
or parameter naming anything else is refused with a 400.
"""

from __future__ import annotations

from typing import Any

from iocgis.layers.model import FieldDef

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"


def finish_queryables(document: dict[str, Any], fields: dict[str, FieldDef], *,
                      spatial: bool) -> dict[str, Any]:
    """``document`` (pygeoapi's queryables JSON) completed for a collection with ``fields``."""
    properties = dict(document.get("properties") or {})
    if not spatial:
        properties.pop("geometry", None)
    for name, schema in properties.items():
        field = fields.get(name)
        if field is not None:
            properties[name] = {**schema, "title": field.title.vi, "description": field.title.en}
    return {**document, "$schema": JSON_SCHEMA, "properties": properties,
            "additionalProperties": False}
