"""Run under the system python3 with Debian's python3-qgis (not the project's venv):
open a project from the database and some tables as QGIS would, print what QGIS sees as JSON.

    QT_QPA_PLATFORM=offscreen PGSERVICEFILE=... python3 qgis_probe.py '<json request>'

The request: {"project": "<qgis project URI>", "tables": ["<postgres datasource>", ...]}.
"""

import json
import os
import sys

from qgis.core import Qgis, QgsApplication, QgsProject, QgsVectorLayer


def describe(layer):
    info = {"name": layer.name(), "valid": layer.isValid(), "source": layer.source()}
    if layer.isValid():
        renderer = layer.renderer()
        info["renderer"] = renderer.type() if renderer else None
        info["features"] = layer.featureCount()
        info["fields"] = [f.name() for f in layer.fields()]
        rows = []
        for feature in layer.getFeatures():
            rows.append({k: (None if v is None or str(v) == "NULL" else str(v))
                         for k, v in zip(info["fields"], feature.attributes())})
            if len(rows) >= 5:
                break
        info["rows"] = rows
    return info


def main():
    request = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    out = {"qgis": Qgis.QGIS_VERSION, "project": None, "tables": []}
    if request.get("project"):
        project = QgsProject.instance()
        ok = project.read(request["project"])
        root = project.layerTreeRoot()
        out["project"] = {
            "read": ok,
            "groups": [g.name() for g in root.findGroups()],
            "layers": [describe(layer) for layer in project.mapLayers().values()],
        }
    for uri in request.get("tables", []):
        layer = QgsVectorLayer(uri, uri, "postgres")
        out["tables"].append(describe(layer))
    print("QGIS-PROBE " + json.dumps(out, ensure_ascii=False), flush=True)
    QgsProject.instance().clear()
    # PyQGIS may crash while tearing down layers it still holds; the answer is out already.
    os._exit(0)


main()
