"""Links of OGC API documents: clean hrefs, HTTP ``Link`` headers, the GeoJSON media type.

pygeoapi writes the links of its documents; the adapter finishes them here:

- the ``items`` and ``queryables`` links of a collection lose their ``?f=json``: the JSON
  answer is the default, and clients append to the href (GDAL built ``items?f=json/45`` to read
  feature 45);
- collection, items and item answers carry their links as an HTTP ``Link`` header (RFC 8288;
  Features Part 1 recommends it, Part 3's abstract tests read the queryables link from it),
  without titles (header values are Latin-1, titles are Vietnamese) and with ``,`` and ``;``
  percent-encoded in the targets, so that a naive split of the header still finds each link;
- JSON answers of items and features are ``application/geo+json``, as their links say
  (Features Part 1, /req/geojson/content).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode

GEOJSON = "application/geo+json"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA_REL = "http://www.opengis.net/def/rel/ogc/1.0/schema"
# The relations a Link header repeats: the page itself, its other formats, its neighbours and
# where it belongs (plus, for a collection, where its items and queryables are).
HEADER_RELS = ("self", "alternate", "next", "prev", "collection", "items", QUERYABLES_REL)
# Links whose JSON answer is the default: their href carries no ?f=json.
DEFAULT_JSON = {("items", GEOJSON), (QUERYABLES_REL, "application/schema+json"),
                (SCHEMA_REL, "application/schema+json")}
# The formats of an items page, as pygeoapi names them in ?f= (JSON first: the default).
ITEMS_FORMATS = (("json", GEOJSON), ("html", "text/html"), ("jsonld", "application/ld+json"),
                 ("csv", "text/csv; charset=utf-8"))
# A single feature, and the catalogue's records (pygeoapi's CSV writer fails on records).
FEATURE_FORMATS = ITEMS_FORMATS[:3]
_HREF_SAFE = "/:?=&%@!$'()*+~#[]-._"
# Response headers must stay small (HTTP clients refuse headers over 16 kB or so): a link to a
# page with a 40 kB filter stays in the body only.
MAX_HEADER_HREF = 2000
MAX_HEADER = 8000


def is_json(headers: dict[str, str]) -> bool:
    media = headers.get("Content-Type", "").split(";")[0].strip()
    return media == "application/json" or media.endswith("+json")


def clean_href(link: dict[str, Any]) -> dict[str, Any]:
    if (link.get("rel"), link.get("type")) not in DEFAULT_JSON:
        return link
    href = str(link.get("href", ""))
    base, _, query = href.partition("?")
    kept = "&".join(part for part in query.split("&") if part and part != "f=json")
    return {**link, "href": f"{base}?{kept}" if kept else base}


def _offered(link: dict[str, Any], media_types: tuple[str, ...] | None) -> bool:
    media = str(link.get("type", "")).split(";")[0].strip()
    return media_types is None or link.get("rel") not in ("self", "alternate", "items") \
        or media in media_types


def clean_links(document: dict[str, Any], *, without_csv: tuple[str, ...] = ()) -> dict[str, Any]:
    """A collection (or every collection of ``/collections``) with clean default-JSON links;
    the collections ``without_csv`` lose the CSV links pygeoapi writes for every collection."""
    def clean(links: list[dict[str, Any]], collection_id: Any) -> list[dict[str, Any]]:
        kept = offered_only(links, FEATURE_FORMATS) if collection_id in without_csv else links
        return [clean_href(link) for link in kept]

    if isinstance(document.get("links"), list):
        document["links"] = clean(document["links"], document.get("id"))
    for collection in document.get("collections") or []:
        if isinstance(collection.get("links"), list):
            collection["links"] = clean(collection["links"], collection.get("id"))
    return document


def offered_only(links: list[dict[str, Any]],
                 formats: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """The links without the formats a page does not offer (self, alternate and items)."""
    media_types = tuple(media.split(";")[0] for _, media in formats) + ("application/json",)
    return [link for link in links if _offered(link, media_types)]


def link_header(links: Iterable[dict[str, Any]], rels: Iterable[str] = HEADER_RELS) -> str:
    """RFC 8288 ``Link`` value of the links with one of ``rels``."""
    wanted = tuple(rels)
    parts = []
    for link in links:
        rel, href = link.get("rel"), link.get("href")
        if rel not in wanted or not href:
            continue
        target = quote(str(href), safe=_HREF_SAFE).replace(",", "%2C").replace(";", "%3B")
        if len(target) > MAX_HEADER_HREF:
            continue
        part = f'<{target}>; rel="{rel}"'
        if link.get("type"):  # the media type without parameters (no ";" inside the value)
            part += f'; type="{str(link["type"]).split(";")[0].strip()}"'
        if sum(len(p) + 2 for p in parts) + len(part) > MAX_HEADER:
            break
        parts.append(part)
    return ", ".join(parts)


def top_level_links(text: str) -> tuple[int, int, list[dict[str, Any]]]:
    """Where the ``links`` array of a JSON document stands (start, end) and what it holds.

    An items page may be megabytes; its top-level links follow the features (pygeoapi writes
    them last), so they are looked for from the end and accepted when they hold a ``self``
    link. Otherwise (-1, -1, the links of the decoded document)."""
    start = text.rfind('"links":[')
    if start >= 0:
        start += len('"links":')
        try:
            found, end = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            found = None
        if isinstance(found, list) and any(isinstance(link, dict) and link.get("rel") == "self"
                                           for link in found):
            return start, end, found
    document = json.loads(text)
    return -1, -1, document.get("links", []) if isinstance(document, dict) else []


FORMAT_TITLES = {"json": "GeoJSON", "html": "HTML", "jsonld": "RDF (JSON-LD)", "csv": "CSV"}


def format_links(url: str, params: Iterable[tuple[str, str]], current: str,
                 formats: Iterable[tuple[str, str]] = ITEMS_FORMATS) -> list[dict[str, str]]:
    """Self and alternate links of the page at ``url`` (absolute, no query) in each format, with
    every parameter of the request (the page of a filtered walk stays filtered), written as
    pygeoapi writes its own (values percent-encoded, commas kept)."""
    kept = [(k, v) for k, v in params if k != "f"]
    return [{"rel": "self" if name == current else "alternate", "type": media,
             "title": f"Trang này dạng / this page as {FORMAT_TITLES.get(name, name)}",
             "href": f"{url}?{urlencode([('f', name), *kept], safe=',', quote_via=quote)}"}
            for name, media in formats]
