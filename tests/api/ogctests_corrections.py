"""A pytest plugin for ogctests 0.1.15 (``-p tests.api.ogctests_corrections``): its core part with
the one thing it gets wrong about the standard corrected, and nothing else changed.

ogctests rejects features without a spatial geometry, which OGC API – Features allows:

- its ``featureGeoJSON.yaml`` requires a geometry object, while RFC 7946 §3.2 says "the value of
  the geometry member SHALL be either a Geometry object ... or, in the case that the Feature is
  unlocated, a JSON null value" (and OGC's own Feature building block: "``null``, if the
  feature has no spatial geometry") — ast22 and ast28 fail on the KPI and observation layers;
- ast15 asserts that every feature of a ``bbox`` answer intersects the box, while Part 1
  /req/core/fc-bbox-response C says "The bbox parameter SHALL match all features in the
  collection that are not associated with a spatial geometry, too" (and ast15's own docstring
  says the same).

The corrections: the suite's schema validation accepts ``"geometry": null`` (the feature schema
with ``oneOf: [null, geometry]``), and the bbox and CRS assertions skip features without a
geometry. ``test_ogctests.py`` runs the suite both as published and with this plugin.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import ogctests
import pytest
import yaml
from openapi_schema_validator import validate as suite_validate
from referencing import Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(ogctests.__file__).parent / "features" / "schemas"
FEATURE_URN = "urn:featureGeoJSON"


def _feature_schema() -> dict[str, Any]:
    schema = yaml.safe_load((SCHEMAS / "featureGeoJSON.yaml").read_text())
    corrected = copy.deepcopy(schema)
    corrected["properties"]["geometry"] = {"oneOf": [{"type": "null"},
                                                     schema["properties"]["geometry"]]}
    return corrected


FEATURE_SCHEMA = _feature_schema()


def validate_allowing_unlocated(instance: Any, schema: dict[str, Any], *args: Any,
                                **kwargs: Any) -> None:
    """The suite's validation, with features whose geometry is null accepted (RFC 7946 §3.2)."""
    registry = kwargs.get("registry")
    if registry is not None:
        resource = Resource.from_contents(FEATURE_SCHEMA, default_specification=DRAFT202012)
        kwargs["registry"] = registry.with_resource(FEATURE_URN, resource)
    if "geometry" in schema.get("properties", {}):
        schema = FEATURE_SCHEMA
    suite_validate(instance, schema, *args, **kwargs)


def _located_only(check: Any) -> Any:
    def corrected(feature: dict[str, Any], *args: Any) -> None:
        if feature.get("geometry") is None:  # fc-bbox-response C: it belongs in the answer
            return
        check(feature, *args)
    corrected.__wrapped__ = check  # type: ignore[attr-defined]
    return corrected


def pytest_collection_finish(session: pytest.Session) -> None:
    for module in {item.module for item in session.items if hasattr(item, "module")}:
        if getattr(module, "validate", None) is suite_validate:
            module.validate = validate_allowing_unlocated
        for name in ("assert_bbox_in_range", "assert_valid_feature_crs"):
            check = getattr(module, name, None)
            if check is not None and not hasattr(check, "__wrapped__"):
                setattr(module, name, _located_only(check))
