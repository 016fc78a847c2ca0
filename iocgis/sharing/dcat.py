"""The open-data catalogue a national portal harvests: DCAT in the data.json shape (Project
Open Data 1.1, which DCAT-AP harvesters such as CKAN's read): one dataset per open layer with
its licence, publisher, last change, spatial extent and one distribution per download."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from iocgis.layers import LayerDef
from iocgis.layers.model import OPEN_LICENCES, Text
from iocgis.sharing.open_data import FORMATS, file_name

CONTEXT = "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld"
SCHEMA = "https://project-open-data.cio.gov/v1.1/schema"


def default_publisher(province_code: str) -> Text:
    return Text(vi=f"Trung tâm Giám sát, điều hành thông minh tỉnh (mã {province_code})",
                en=f"Intelligent Operations Center of the province (code {province_code})")


def dataset(layer: LayerDef, version: int, modified: datetime | None,
            bbox: tuple[float, float, float, float] | None, base_url: str,
            publisher: Text) -> dict[str, Any]:
    assert layer.open is not None
    who = layer.open.publisher or publisher
    return {
        "@type": "dcat:Dataset",
        "identifier": f"{base_url}/open-data/{layer.id}",
        "title": layer.title.vi,
        "description": layer.description.vi,
        "title_en": layer.title.en,
        "description_en": layer.description.en,
        "keyword": list(layer.keywords),
        "theme": [layer.group],
        "language": ["vi", "en"],
        "modified": modified.isoformat() if modified else None,
        "version": str(version),
        "accessLevel": "public",
        "license": OPEN_LICENCES[layer.open.licence],
        "rights": layer.open.licence,
        "publisher": {"@type": "org:Organization", "name": who.vi, "name_en": who.en},
        # required by Project Open Data 1.1 (a vCard); the publisher answers for the dataset
        "contactPoint": {"@type": "vcard:Contact", "fn": who.vi},
        "spatial": ",".join(f"{v:.6f}" for v in bbox) if bbox else None,
        "landingPage": f"{base_url}/collections/{layer.id}",
        "distribution": [
            {"@type": "dcat:Distribution", "title": f"{layer.title.vi} ({title})",
             "format": title, "mediaType": media.split(";")[0],
             "downloadURL": f"{base_url}/open-data/{layer.id}.{fmt}",
             "fileName": file_name(layer, version, fmt)}
            for fmt, (_, media, title) in FORMATS.items()],
    }


def catalog(datasets: list[dict[str, Any]], base_url: str, publisher: Text) -> dict[str, Any]:
    return {
        "@context": CONTEXT, "@id": f"{base_url}/open-data/catalog.json",
        "@type": "dcat:Catalog", "conformsTo": SCHEMA,
        "describedBy": f"{SCHEMA}/catalog.json",
        "title": f"Dữ liệu mở - {publisher.vi}", "title_en": f"Open data - {publisher.en}",
        "publisher": {"@type": "org:Organization", "name": publisher.vi,
                      "name_en": publisher.en},
        "dataset": datasets,
    }
