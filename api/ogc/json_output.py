"""Real UTF-8 JSON out of pygeoapi.

pygeoapi's ``to_json`` escapes every non-ASCII letter (``"Đồng Nai"`` becomes
``"\\u0110\\u1ed3ng Nai"``) and rewrites ``<`` and ``>`` inside values as ``&lt;`` ``&gt;``,
which corrupts data such as ``"> 5 tầng"``. pygeoapi has no setting for either, so the API
modules' reference to ``to_json`` is pointed at one that writes UTF-8 and leaves values alone.
The template filter keeps its ``<``/``>`` escaping (it guards JSON embedded in HTML ``<script>``)
and only stops escaping letters. ``tests/api/test_utf8.py`` fails if a pygeoapi upgrade moves
these names.
"""

from __future__ import annotations

import importlib
import json

import pygeoapi.util
from pygeoapi.util import json_serial

# Modules whose handlers serialise responses with ``to_json`` imported by name.
API_MODULES = ("pygeoapi.api", "pygeoapi.api.itemtypes", "pygeoapi.api.tiles")
_escaping_to_json = pygeoapi.util.to_json


def to_json(dict_: dict, pretty: bool = False) -> str:
    """JSON as UTF-8 text, values untouched."""
    return json.dumps(dict_, default=json_serial, indent=4 if pretty else None,
                      separators=(",", ":"), ensure_ascii=False)


def to_json_for_html(dict_: dict, pretty: bool = False) -> str:
    """For templates: UTF-8 letters, ``<`` and ``>`` still escaped for ``<script>`` blocks."""
    return to_json(dict_, pretty).replace("<", "&lt;").replace(">", "&gt;")


def install() -> None:
    for name in API_MODULES:
        module = importlib.import_module(name)
        if getattr(module, "to_json", None) is None:
            raise RuntimeError(f"{name}.to_json is gone: review iocgis.api.ogc.json_output")
        module.to_json = to_json  # type: ignore[attr-defined]
    pygeoapi.util.to_json = to_json_for_html  # the Jinja filter reads it at render time
