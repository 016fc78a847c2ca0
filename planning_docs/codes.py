"""Code lists of the registry as the dossiers use them: checked values and their titles."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from iocgis.errors import InvalidInput
from iocgis.layers import Registry

PROJECTS = "planning.projects"
ZONES = "planning.zones"


@lru_cache(maxsize=64)
def domain(registry: Registry, layer_id: str, field: str) -> Mapping[str, Any]:
    """Code -> Code of a registry field's code list (the registry is frozen: built once per
    registry; the lookup titles every zone and plan with it)."""
    found = registry.resolve_domain(registry.get(layer_id).field(field)) or ()
    return MappingProxyType({c.code: c for c in found})


def titled(registry: Registry, layer_id: str, field: str, code: str | None) -> dict | None:
    """``{"code", "vi", "en"}`` (the code alone when it is not in the list)."""
    if code is None:
        return None
    entry = domain(registry, layer_id, field).get(code)
    return {"code": code, "vi": entry.vi if entry else code, "en": entry.en if entry else code}


def check(registry: Registry, layer_id: str, field: str, value: Any, where: str) -> str:
    codes = domain(registry, layer_id, field)
    if not isinstance(value, str) or value not in codes:
        raise InvalidInput(f"{where} {str(value)[:40]!r} is not in the code list", where=where,
                           hint=f"one of: {', '.join(codes)}")
    return value
