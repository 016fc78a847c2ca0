"""Where iocgis relies on pygeoapi 0.24 beyond its supported seams: every such place, in one module.

The OGC adapter talks to pygeoapi through what pygeoapi documents: plugin providers named in
the configuration, the configuration itself (``server.url`` per generated ``API`` object,
``server.templates``), its OpenAPI generator, its ``APIRequest`` built from a Starlette request
and the handler functions of ``pygeoapi.api``. It replaces no pygeoapi function and writes no
private attribute of a pygeoapi object (``tests/api/test_pygeoapi_seams.py`` asserts both).

What is left below depends on how pygeoapi 0.24 behaves, not on an interface it promises. Each
item says what is missing upstream; ``WRITTEN_FOR`` is the version it was checked against, and
the test of this module fails on any other version: review each item, then move the pin.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pygeoapi

from iocgis.api.ogc.crs import CRS84, OgcCrs
from iocgis.api.ogc.params import ItemsQuery

WRITTEN_FOR = "0.24.0"
log = logging.getLogger("iocgis.api.ogc")


def version_matches() -> bool:
    return pygeoapi.__version__ == WRITTEN_FOR


def warn_on_other_version() -> None:
    if not version_matches():
        log.warning("pygeoapi %s is installed; iocgis.api.ogc.pygeoapi_seams was written for %s: "
                    "review it (tests/api/test_pygeoapi_seams.py)", pygeoapi.__version__,
                    WRITTEN_FOR)


# --- 1. The checked request, handed to the providers ---------------------------------------
# pygeoapi parses bbox, datetime, filter (through pygeofilter), sortby and q itself and hands
# providers the result; its parser accepts less CQL2 than ours, answers a datetime outside the
# extent with a 400 and transforms bboxes with pyproj. The adapter therefore hides these
# parameters from pygeoapi (it builds pygeoapi's request without them) and hands the query it
# checked to the provider here. Missing upstream: a per-request object passed to
# ``provider.query()``/``get()``, or a way for a provider to parse its own parameters.

@dataclass(frozen=True)
class OgcRequest:
    """What the adapter checked, for the provider of ``collection_id``."""

    collection_id: str
    items: ItemsQuery | None = None
    item_crs: OgcCrs = CRS84
    item_footprint: bool = False  # geometry=footprint on one item of a layer with footprints
    format: str = "json"  # as pygeoapi names it in ?f=: the page links' self
    # A JSON items page's features as PostgreSQL wrote them (``features_json``), for the
    # adapter to put into pygeoapi's answer (``with_features``); shared by its copies.
    written: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


_CHECKED: ContextVar[OgcRequest | None] = ContextVar("iocgis_ogc_request", default=None)


@contextmanager
def serving(request: OgcRequest | None) -> Iterator[None]:
    """Within: the providers read ``request`` (Starlette copies the context into the thread
    pygeoapi runs in)."""
    token = _CHECKED.set(request)
    try:
        yield
    finally:
        _CHECKED.reset(token)


def checked_request(collection_id: str) -> OgcRequest | None:
    current = _CHECKED.get()
    return current if current is not None and current.collection_id == collection_id else None


# --- 1b. An items page's features, written by PostgreSQL ------------------------------------
# pygeoapi takes a provider's features as Python objects and writes the page with its
# ``to_json``; for a JSON page of 100 parcels decoding the geometries, encoding them again and
# undoing the HTML escaping (below) took most of the request's Python time. The provider asks
# PostgreSQL for each feature as GeoJSON text, hands pygeoapi an empty feature list and leaves
# the text here; the adapter puts it where pygeoapi wrote the empty list. Missing upstream: a
# provider answer that is already serialised.

EMPTY_FEATURES = '"features":[]'


def features_json(request: OgcRequest, features: list[str]) -> None:
    """Leave a JSON page's features (each a GeoJSON Feature as text) for ``with_features``."""
    request.written["features"] = "[" + ",".join(features) + "]"


def with_features(text: str, request: OgcRequest | None) -> str:
    """pygeoapi's JSON answer with the features the provider left (``features_json``) in place
    of the empty list it was given; the first ``"features":[]`` is that list (the provider's
    answer starts ``{"type":"FeatureCollection","features":[]``, before any value)."""
    written = request.written.get("features") if request is not None else None
    if written is None:
        return text
    at = text.find(EMPTY_FEATURES)
    if at < 0:
        raise RuntimeError("pygeoapi's items answer has no empty feature list to fill")
    start = at + len(EMPTY_FEATURES) - 2
    return text[:start] + written + text[start + 2:]


# --- 2. JSON answers ------------------------------------------------------------------------
# pygeoapi's ``to_json`` writes every non-ASCII letter as ``\\uXXXX`` and every ``<`` and ``>``
# of every value as ``&lt;`` and ``&gt;`` (for templates that embed it in ``<script>``); it has
# no setting for either. The adapter turns its JSON answers into UTF-8 JSON here, as text (an
# items page is mostly coordinates: decoding and writing it again would cost more than pygeoapi
# took to write it): the ``\\u`` escapes of letters become the letters, and ``&lt;``/``&gt;``,
# which can only stand inside a JSON string, become ``<``/``>``. A stored value that itself
# contains the text ``&lt;`` or ``&gt;`` therefore reads as ``<`` or ``>`` in JSON answers (HTML
# and CSV keep it). Missing upstream: a ``to_json`` for responses without HTML escaping (pygeoapi
# pull request 2310 aligned the escaping with ``xml.sax.saxutils`` but still applies it).

# An escaped backslash (kept as it is), a surrogate pair, or one escaped code point.
_ESCAPE = re.compile(r"\\(?:u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|u([0-9a-f]{4})|\\)",
                     re.IGNORECASE)


def _letter(match: re.Match[str]) -> str:
    high, low, single = match.groups()
    if high:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + (int(low, 16) - 0xDC00))
    if single:
        code = int(single, 16)
        # control characters and lone surrogates must stay escaped in JSON
        return match.group(0) if code < 0x20 or 0xD800 <= code < 0xE000 else chr(code)
    return match.group(0)


_LETTERS: dict[str, str] = {}  # escape -> letter: Vietnamese text repeats a few hundred


def _known_letter(match: re.Match[str]) -> str:
    escape = match.group(0)
    letter = _LETTERS.get(escape)
    if letter is None:
        if len(_LETTERS) > 100_000:
            _LETTERS.clear()
        letter = _LETTERS[escape] = _letter(match)
    return letter


def utf8_json(text: str | bytes) -> str:
    """A JSON answer of pygeoapi as UTF-8 JSON text, ``<`` and ``>`` as they were."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return _ESCAPE.sub(_known_letter, text).replace("&lt;", "<").replace("&gt;", ">")


# --- 3. Links of an items page --------------------------------------------------------------
# pygeoapi 0.24 appends its own links to an items page after the provider's: self and
# alternate (with only the parameters it was given), prev when offset > 0 and next when the
# page is full, unless the provider wrote a next link. The providers here write every page
# link from the checked query (all parameters, keyset cursor); of pygeoapi's only those
# relations the provider did not write are kept. Missing upstream: a provider option to own
# the page links.

def provider_links_first(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The links without pygeoapi's repeats of a relation (and media type) the provider wrote."""
    kept, seen, paging = [], set(), set()
    for link in links:
        rel, media = link.get("rel"), str(link.get("type", "")).split(";")[0].strip()
        if rel in ("prev", "next"):
            if rel in paging:
                continue
            paging.add(rel)
        elif (rel, media) in seen:
            continue
        seen.add((rel, media))
        kept.append(link)
    return kept


# --- 4. The landing page and the conformance declaration -----------------------------------
# pygeoapi links the landing page to /processes whether or not a process is configured (none
# is: a client following it would get a 404), declares Features Part 4 for every feature
# collection although none is editable, and declares conformance per provider type only, so
# the CQL2 and filtering classes the providers implement are missing. Missing upstream:
# conformance classes declared by a provider, and no process links without processes.

EXTRA_CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
)
DROPPED_CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",)


def landing_page(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "links": [link for link in document.get("links", [])
                                  if not str(link.get("rel", "")).endswith("/processes")]}


def conformance(document: dict[str, Any]) -> dict[str, Any]:
    classes = set(document.get("conformsTo", [])) - set(DROPPED_CONFORMANCE)
    return {**document, "conformsTo": sorted(classes | set(EXTRA_CONFORMANCE))}


# --- 5. pygeoapi's logging ------------------------------------------------------------------
# pygeoapi logs every error it answers (404, 400, ...) at ERROR with a traceback, warns on
# every items request without ``offset``, and its HTML rendering warns about each
# configuration key it tries as a language. Every error pygeoapi answers becomes an HTTP
# answer, which the adapter logs when it is a server error (``routes``), so pygeoapi's own
# handler records are not kept. Missing upstream: answered client errors logged at DEBUG.

QUIET_LOGGERS = {"pygeoapi.api": logging.CRITICAL, "pygeoapi.l10n": logging.ERROR}


def quiet_logs() -> None:
    for name, level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


# pygeoapi 0.24 caches the translated configuration it renders HTML with by language only
# (``pygeoapi.l10n._cfg_cache``): the first API object to render a page fixes the server URL,
# links and resources of every later page in the process, whatever its host or level. Missing
# upstream: a cache keyed by the configuration. Until then each HTML render starts from its
# own configuration; renders are serialised so none reads another's (HTML is people's traffic).
_HTML_RENDER = threading.Lock()


@contextmanager
def own_template_config() -> Iterator[None]:
    from pygeoapi import l10n

    with _HTML_RENDER:
        l10n._cfg_cache.clear()
        try:
            yield
        finally:
            l10n._cfg_cache.clear()
