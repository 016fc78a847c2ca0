"""Run under the system python3 with Debian's python3-qgis (not the project's venv):
open a project from the database and some tables as QGIS would, render the project to PNG,
and print what QGIS saw as JSON.

    QT_QPA_PLATFORM=offscreen PGSERVICEFILE=... python3 qgis_probe.py '<json request>'

The request: {"project": "<qgis project URI>", "tables": ["<postgres datasource>", ...],
"renders": [{"name": ..., "extent": [xmin, ymin, xmax, ymax] (EPSG:4326),
"size": [width, height], "path": "<png file>", "switch_on": [<group name>, ...],
"compare_to": "<name of an earlier render>"}, ...]}.
"""

import json
import os
import sys
from collections import Counter

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsExpression,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsLayerTreeGroup,
    QgsLayerTreeLayer,
    QgsMapRendererCustomPainterJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsRenderContext,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter

MESSAGES = []


def _parsed(properties):
    out = []
    for key in properties.propertyKeys():
        text = properties.property(key).expressionString()
        if text:
            expression = QgsExpression(text)
            out.append({"expression": text, "error": expression.parserErrorString()
                        if expression.hasParserError() else None})
    return out


def expressions(layer, context):
    """Every data-defined expression of the layer's symbols and labels, with its parse error."""
    out = []
    renderer = layer.renderer()
    for symbol in renderer.symbols(context) if renderer else []:
        for i in range(symbol.symbolLayerCount()):
            out += _parsed(symbol.symbolLayer(i).dataDefinedProperties())
    if layer.labelsEnabled() and layer.labeling():
        settings = layer.labeling().settings()  # a copy: keep it while its properties are read
        out += _parsed(settings.dataDefinedProperties())
    return out


def style(layer, context):
    """What the style of a layer draws with: renderer, symbol colours, labels."""
    renderer = layer.renderer()
    symbols = renderer.symbols(context) if renderer else []
    return {"renderer": renderer.type() if renderer else None,
            "colours": [symbol.color().name() for symbol in symbols],
            "labels": layer.labelsEnabled()}


def describe(layer):
    info = {"id": layer.id(), "name": layer.name(), "valid": layer.isValid(),
            "source": layer.source(), "crs": layer.crs().authid()}
    if layer.isValid():
        renderer = layer.renderer()
        info["renderer"] = renderer.type() if renderer else None
        context = QgsRenderContext()
        info["style"] = style(layer, context)
        info["expressions"] = expressions(layer, context)
        info["features"] = layer.featureCount()
        info["fields"] = [f.name() for f in layer.fields()]
        info["geometry"] = layer.geometryType()
        rows = []
        fetched = 0
        for feature in layer.getFeatures():  # every attribute, as the attribute table reads
            fetched += 1
            if len(rows) < 5:
                rows.append({k: (None if v is None or str(v) == "NULL" else str(v))
                             for k, v in zip(info["fields"], feature.attributes())})
        info["rows"] = rows
        info["fetched"] = fetched
    return info


def tree(group):
    """The layer tree as QGIS holds it: groups with their check state, layers by id."""
    out = []
    for child in group.children():
        if isinstance(child, QgsLayerTreeGroup):
            out.append({"group": child.name(), "checked": child.isVisible(),
                        "children": tree(child)})
        elif isinstance(child, QgsLayerTreeLayer):
            out.append({"layer": child.layerId(), "name": child.name(),
                        "checked": child.itemVisibilityChecked(),
                        "orphan": child.layer() is None})
    return out


def picture(image):
    """Colour statistics of a rendered image: distinct colours and the background's share."""
    counts = Counter()
    width, height = image.width(), image.height()
    for y in range(0, height, 2):
        for x in range(0, width, 2):
            counts[image.pixel(x, y)] += 1
    total = sum(counts.values())
    background, most = counts.most_common(1)[0]
    return {"colours": len(counts), "background": QColor(background).name(),
            "background_share": most / total}


def difference(image, other):
    """The share of (sampled) pixels that differ between two renders of the same size."""
    changed = total = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            total += 1
            changed += image.pixel(x, y) != other.pixel(x, y)
    return changed / total


def render(project, request, done):
    """Render the project's visible layers (in the tree's order, top first) into a PNG, with
    the groups named in ``switch_on`` ticked as a user would."""
    root = project.layerTreeRoot()
    switched = [root.findGroup(name) for name in request.get("switch_on", [])]
    for group in switched:
        group.setItemVisibilityChecked(True)
    layers = [layer for layer in root.layerOrder()
              if root.findLayer(layer.id()) and root.findLayer(layer.id()).isVisible()]
    for group in switched:
        group.setItemVisibilityChecked(False)
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(project.crs())
    settings.setTransformContext(project.transformContext())
    settings.setBackgroundColor(project.backgroundColor())
    settings.setOutputSize(QSize(*request["size"]))
    settings.setOutputDpi(96)
    settings.setFlag(settings.Antialiasing, True)
    settings.setLabelingEngineSettings(project.labelingEngineSettings())
    extent = QgsRectangle(*request["extent"])
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    if project.crs() != wgs84:
        extent = QgsCoordinateTransform(wgs84, project.crs(), project).transformBoundingBox(extent)
    settings.setExtent(extent)
    # As QGIS desktop does: global, project and map scopes (data-defined styles use @map_scale).
    context = QgsExpressionContext()
    for scope in (QgsExpressionContextUtils.globalScope(),
                  QgsExpressionContextUtils.projectScope(project),
                  QgsExpressionContextUtils.mapSettingsScope(settings)):
        context.appendScope(scope)
    settings.setExpressionContext(context)
    image = QImage(settings.outputSize(), QImage.Format_ARGB32_Premultiplied)
    image.fill(settings.backgroundColor().rgb())
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.start()
    job.waitForFinished()
    painter.end()
    image.save(request["path"], "PNG")
    done[request["name"]] = image
    compared = request.get("compare_to")
    # One entry per labelled feature (a curved label comes back once per character).
    labels = Counter(layer_id for layer_id, _ in {
        (label.layerID, label.featureId) for label in job.takeLabelingResults().allLabels()
        if not label.isUnplaced})
    return {"name": request["name"], "path": request["path"],
            "layers": [layer.id() for layer in layers], "scale": settings.scale(),
            "errors": [f"{e.layerID}: {e.message}" for e in job.errors()],
            "labels": dict(labels), **picture(image),
            "difference": difference(image, done[compared]) if compared else None}


def main():
    request = json.loads(sys.argv[1])
    app = QgsApplication([], False)
    app.initQgis()
    QgsApplication.messageLog().messageReceived.connect(
        lambda message, tag, level: MESSAGES.append(f"{tag}: {message}"))
    out = {"qgis": Qgis.QGIS_VERSION, "project": None, "tables": [], "renders": []}
    if request.get("project"):
        project = QgsProject.instance()
        ok = project.read(request["project"])
        root = project.layerTreeRoot()
        crs = project.crs()
        out["project"] = {
            "read": ok,
            "crs": crs.authid() if crs.isValid() else None,
            "groups": [g.name() for g in root.findGroups()],
            "tree": tree(root),
            "order": [layer.id() for layer in root.layerOrder()],
            "layers": [describe(layer) for layer in project.mapLayers().values()],
        }
        done = {}
        for item in request.get("renders", []):
            out["renders"].append(render(project, item, done))
    for uri in request.get("tables", []):
        layer = QgsVectorLayer(uri, uri, "postgres")
        out["tables"].append(describe(layer))
    out["messages"] = MESSAGES
    print("QGIS-PROBE " + json.dumps(out, ensure_ascii=False), flush=True)
    QgsProject.instance().clear()
    # PyQGIS may crash while tearing down layers it still holds; the answer is out already.
    os._exit(0)


main()
