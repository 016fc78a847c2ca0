"""Small departmental servers for the connector tests, hand-written from the public specs:

- an ArcGIS REST FeatureServer layer (GeoServices REST Specification 1.0, "Query (Feature
  Service/Layer)"): ``/arcgis/rest/services/CayXanh/FeatureServer/0/query`` answering Esri JSON
  with ``resultOffset``/``resultRecordCount`` paging and ``exceededTransferLimit``, and a
  ``where`` on its edit date (``EditDate > TIMESTAMP '...'``);
- a WFS 2.0.0 (OGC 09-025r2): GetCapabilities (with ImplementsResultPaging), DescribeFeatureType
  (an XML schema) and GetFeature in GML 3.2 with ``STARTINDEX``/``COUNT``, ``resultType=hits``
  and one FES 2.0 filter (``ngay_sua`` greater than a time; any other filter is refused);
- files at URLs (``/files/{name}``).

Each serves what ``ServerData`` holds now; a name in ``broken`` answers 500, one in ``flaky``
503 for as many requests as it counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WFS_NS = "http://example.vn/thoatnuoc"


@dataclass
class ServerData:
    trees: list[dict[str, Any]] = field(default_factory=list)  # Esri attributes + x, y
    outlets: list[dict[str, Any]] = field(default_factory=list)  # WFS properties + lon, lat
    files: dict[str, bytes] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    token: str | None = None  # the ArcGIS token the query must carry, when set
    # name -> how many more requests answer 503 (a server busy for a moment)
    flaky: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # path?query of every request


def app(data: ServerData) -> Starlette:
    def seen(request: Request) -> None:
        data.requests.append(f"{request.url.path}?{request.url.query}")

    def busy(name: str) -> Response | None:
        if data.flaky.get(name, 0) > 0:
            data.flaky[name] -= 1
            return Response("busy", status_code=503, headers={"Retry-After": "1"})
        return None

    async def arcgis_query(request: Request) -> Response:
        seen(request)
        if (answer := busy("arcgis")) is not None:
            return answer
        if "arcgis" in data.broken:
            return JSONResponse({"error": {"code": 500, "message": "Máy chủ lỗi"}},
                                status_code=500)
        q = {k.lower(): v for k, v in request.query_params.items()}
        if data.token and q.get("token") != data.token:  # the REST API's "invalid token"
            return JSONResponse({"error": {"code": 498, "message": "Invalid Token"}})
        rows = data.trees
        where = q.get("where", "1=1")
        match = re.fullmatch(r"\s*EditDate\s*>\s*TIMESTAMP\s*'([^']+)'\s*", where, re.I)
        if match:
            since = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
            rows = [r for r in rows if r["EditDate"] > since.timestamp() * 1000]
        elif where.replace(" ", "") != "1=1":
            return JSONResponse({"error": {"code": 400, "message": f"bad where {where}"}})
        rows = sorted(rows, key=lambda r: r["OBJECTID"])
        offset = int(q.get("resultoffset", 0))
        count = min(int(q.get("resultrecordcount", 1000)), 1000)
        page = rows[offset:offset + count]
        body = {
            "objectIdFieldName": "OBJECTID", "geometryType": "esriGeometryPoint",
            "spatialReference": {"wkid": 4326, "latestWkid": 4326},
            "fields": [
                {"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID"},
                {"name": "MA_CAY", "type": "esriFieldTypeString", "alias": "Mã cây", "length": 20},
                {"name": "LOAI_CAY", "type": "esriFieldTypeString", "alias": "Loài", "length": 80},
                {"name": "CHIEU_CAO", "type": "esriFieldTypeDouble", "alias": "Chiều cao"},
                {"name": "NAM_TRONG", "type": "esriFieldTypeInteger", "alias": "Năm trồng"},
                {"name": "EditDate", "type": "esriFieldTypeDate", "alias": "EditDate",
                 "length": 8}],
            "features": [{"attributes": {k: v for k, v in r.items() if k not in ("x", "y")},
                          "geometry": {"x": r["x"], "y": r["y"]}} for r in page],
        }
        if offset + count < len(rows):
            body["exceededTransferLimit"] = True
        return JSONResponse(body)

    async def arcgis_layer(request: Request) -> Response:
        seen(request)
        return JSONResponse({"id": 0, "name": "CayXanh", "type": "Feature Layer",
                             "geometryType": "esriGeometryPoint", "maxRecordCount": 1000,
                             "advancedQueryCapabilities": {"supportsPagination": True},
                             "objectIdField": "OBJECTID"})

    async def wfs(request: Request) -> Response:
        seen(request)
        if "GetFeature" in str(request.url) and (answer := busy("wfs")) is not None:
            return answer
        if "wfs" in data.broken:
            return Response("<html>502 Bad Gateway</html>", status_code=500,
                            media_type="text/html")
        q = {k.lower(): v for k, v in request.query_params.items()}
        kind = q.get("request", "").lower()
        base = str(request.url).split("?")[0]
        if kind == "getcapabilities":
            return _xml(_capabilities(base))
        if kind == "describefeaturetype":
            return _xml(_schema())
        if kind == "getfeature":
            rows = data.outlets
            if q.get("filter"):
                since = _edited_after(q["filter"])
                if since is None:
                    return _xml('<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" '
                                'version="2.0.0"><ows:Exception exceptionCode='
                                '"InvalidParameterValue" locator="FILTER"/>'
                                '</ows:ExceptionReport>', 400)
                rows = [r for r in rows if r.get("ngay_sua")
                        and datetime.fromisoformat(r["ngay_sua"]) > since]
            if q.get("resulttype", "").lower() == "hits":
                return _xml(_collection([], len(rows), 0))
            start = int(q.get("startindex", 0))
            count = int(q.get("count", q.get("maxfeatures", len(rows))))
            page = rows[start:start + count]
            return _xml(_collection(page, len(rows), start))
        return _xml('<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" '
                    'version="2.0.0"><ows:Exception exceptionCode="OperationNotSupported"/>'
                    '</ows:ExceptionReport>', 400)

    async def files(request: Request) -> Response:
        seen(request)
        name = request.path_params["name"]
        if (answer := busy(name)) is not None:
            return answer
        if "files" in data.broken or name not in data.files:
            return Response("not here", status_code=404 if name not in data.files else 500)
        return Response(data.files[name], media_type="application/octet-stream")

    return Starlette(routes=[
        Route("/arcgis/rest/services/CayXanh/FeatureServer/0/query", arcgis_query),
        Route("/arcgis/rest/services/CayXanh/FeatureServer/0", arcgis_layer),
        Route("/wfs", wfs),
        Route("/files/{name}", files),
        Route("/health", lambda request: JSONResponse({"status": "ok"})),
    ])


def _edited_after(fes: str) -> datetime | None:
    """The one filter the server understands (FES 2.0): ``ngay_sua`` after a time."""
    match = re.search(r"PropertyIsGreaterThan[^>]*>\s*<(?:\w+:)?ValueReference>(?:\w+:)?ngay_sua"
                      r"</(?:\w+:)?ValueReference>\s*<(?:\w+:)?Literal>([^<]+)</", fes)
    if not match:
        return None
    moment = datetime.fromisoformat(match.group(1).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _xml(text: str, status: int = 200) -> Response:
    return Response(('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8"),
                    status_code=status, media_type="text/xml; charset=utf-8")


def _capabilities(base: str) -> str:
    ops = "".join(
        f'<ows:Operation name="{name}"><ows:DCP><ows:HTTP><ows:Get xlink:href="{base}?"/>'
        f'</ows:HTTP></ows:DCP></ows:Operation>'
        for name in ("GetCapabilities", "DescribeFeatureType", "GetFeature"))
    return (
        '<wfs:WFS_Capabilities version="2.0.0" xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        'xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'xmlns:fes="http://www.opengis.net/fes/2.0" xmlns:tn="{WFS_NS}">'
        '<ows:ServiceIdentification><ows:Title>Sở Xây dựng - thoát nước</ows:Title>'
        '<ows:ServiceType>WFS</ows:ServiceType><ows:ServiceTypeVersion>2.0.0'
        '</ows:ServiceTypeVersion></ows:ServiceIdentification>'
        f'<ows:OperationsMetadata>{ops}'
        '<ows:Constraint name="ImplementsResultPaging"><ows:NoValues/>'
        '<ows:DefaultValue>TRUE</ows:DefaultValue></ows:Constraint>'
        '<ows:Constraint name="ImplementsBasicWFS"><ows:NoValues/>'
        '<ows:DefaultValue>TRUE</ows:DefaultValue></ows:Constraint>'
        '</ows:OperationsMetadata><wfs:FeatureTypeList><wfs:FeatureType>'
        '<wfs:Name>tn:cua_xa</wfs:Name><wfs:Title>Cửa xả</wfs:Title>'
        '<wfs:DefaultCRS>urn:ogc:def:crs:EPSG::4326</wfs:DefaultCRS>'
        '<ows:WGS84BoundingBox><ows:LowerCorner>106.3 10.4</ows:LowerCorner>'
        '<ows:UpperCorner>107.6 12.4</ows:UpperCorner></ows:WGS84BoundingBox>'
        '</wfs:FeatureType></wfs:FeatureTypeList>'
        # FES 2.0 (OGC 09-026r2) 7.13: the minimum standard filter, which GDAL asks for before
        # it sends any filter to the server (this one evaluates only ngay_sua > t)
        '<fes:Filter_Capabilities><fes:Conformance>'
        '<fes:Constraint name="ImplementsQuery"><ows:NoValues/>'
        '<ows:DefaultValue>TRUE</ows:DefaultValue></fes:Constraint>'
        '<fes:Constraint name="ImplementsAdHocQuery"><ows:NoValues/>'
        '<ows:DefaultValue>TRUE</ows:DefaultValue></fes:Constraint>'
        '<fes:Constraint name="ImplementsMinStandardFilter"><ows:NoValues/>'
        '<ows:DefaultValue>TRUE</ows:DefaultValue></fes:Constraint>'
        '</fes:Conformance><fes:Scalar_Capabilities><fes:LogicalOperators/>'
        '<fes:ComparisonOperators>' + "".join(
            f'<fes:ComparisonOperator name="PropertyIs{op}"/>'
            for op in ("EqualTo", "NotEqualTo", "LessThan", "GreaterThan", "LessThanOrEqualTo",
                       "GreaterThanOrEqualTo", "Like", "Null", "Nil", "Between")) +
        '</fes:ComparisonOperators></fes:Scalar_Capabilities></fes:Filter_Capabilities>'
        '</wfs:WFS_Capabilities>')


def _schema() -> str:
    return (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:tn="{WFS_NS}" '
        f'targetNamespace="{WFS_NS}" elementFormDefault="qualified" version="1.0">'
        '<xsd:import namespace="http://www.opengis.net/gml/3.2"/>'
        '<xsd:complexType name="cua_xaType"><xsd:complexContent>'
        '<xsd:extension base="gml:AbstractFeatureType"><xsd:sequence>'
        '<xsd:element name="ma_cua_xa" type="xsd:string"/>'
        '<xsd:element name="nguon_tiep_nhan" type="xsd:string" minOccurs="0"/>'
        '<xsd:element name="co_cua_phai" type="xsd:boolean" minOccurs="0"/>'
        '<xsd:element name="ngay_sua" type="xsd:dateTime" minOccurs="0"/>'
        '<xsd:element name="geom" type="gml:PointPropertyType"/>'
        '</xsd:sequence></xsd:extension></xsd:complexContent></xsd:complexType>'
        '<xsd:element name="cua_xa" type="tn:cua_xaType" substitutionGroup="gml:AbstractFeature"/>'
        '</xsd:schema>')


def _collection(rows: list[dict[str, Any]], matched: int, start: int) -> str:
    members = []
    for i, r in enumerate(rows, start + 1):
        gate = "" if r.get("co_cua_phai") is None else \
            f"<tn:co_cua_phai>{str(r['co_cua_phai']).lower()}</tn:co_cua_phai>"
        if r.get("ngay_sua"):
            gate += f"<tn:ngay_sua>{r['ngay_sua']}</tn:ngay_sua>"
        members.append(
            f'<wfs:member><tn:cua_xa gml:id="cua_xa.{i}">'
            f'<tn:ma_cua_xa>{escape(r["ma_cua_xa"])}</tn:ma_cua_xa>'
            f'<tn:nguon_tiep_nhan>{escape(r["nguon_tiep_nhan"])}</tn:nguon_tiep_nhan>{gate}'
            f'<tn:geom><gml:Point gml:id="p.{i}" srsName="urn:ogc:def:crs:EPSG::4326">'
            f'<gml:pos>{r["lat"]} {r["lon"]}</gml:pos></gml:Point></tn:geom>'
            '</tn:cua_xa></wfs:member>')
    return (
        '<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        f'xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:tn="{WFS_NS}" '
        f'numberMatched="{matched}" numberReturned="{len(rows)}" '
        f'timeStamp="{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}">{"".join(members)}'
        '</wfs:FeatureCollection>')
