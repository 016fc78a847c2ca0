"""Structured logs: with ``IOCGIS_LOG_FORMAT=json`` every log line is one JSON object (time,
level, logger, message, the request id, and on the access line the route kind, route
template, status and duration), for journald or a log shipper to read without parsing text.

The access line is written by ``iocgis.ops.http.RequestRecord`` (uvicorn's own, which names the
client address and the query string, is turned off): no address, account or query string.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("iocgis_request_id", default=None)
LOG_FORMATS = ("text", "json")
# Attributes a log call may pass in ``extra`` that become fields of the JSON object.
EXTRA_FIELDS = ("route_kind", "route", "method", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, Vietnamese unescaped, one line (newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            body["request_id"] = request_id
        for name in EXTRA_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                body[name] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str, separators=(",", ":"))


def dict_config(fmt: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a format: for ``json``, everything (uvicorn's
    loggers too) through one stderr handler writing JSON, uvicorn's access log off."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}")
    formatter = ({"()": JsonFormatter} if fmt == "json"
                 else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"iocgis": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "iocgis",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True, "level": "INFO"},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": "INFO"},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
        },
    }


def configure(fmt: str) -> None:
    """Apply a format to this process (``json`` only; ``text`` keeps what uvicorn set)."""
    if fmt == "json":
        logging.config.dictConfig(dict_config(fmt))
