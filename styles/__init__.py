"""Map styles: theme definitions as data (``styles/themes/*.yaml``) from which come MapLibre GL
style JSON (``/styles/{name}.json``) and QGIS QML (``qml_for``), with local glyphs and sprites,
and the ``/map`` page."""

from iocgis.styles.definitions import Themes, get_themes, load_themes
from iocgis.styles.maplibre import style_json
from iocgis.styles.qml import qml_for

__all__ = ["Themes", "get_themes", "load_themes", "qml_for", "style_json"]
