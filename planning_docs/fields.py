"""Values of a JSON body or form, checked; every message names the field and what to write."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from iocgis.errors import InvalidInput

PROJECT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,59}$")


def text(body: dict[str, Any], name: str, *, required: bool = False, max_length: int = 500,
         default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{name} is missing", where=name, hint=f"give the {name}")
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", where=name, hint="send it as a JSON string")
    value = unicodedata.normalize("NFC", value.strip()).replace("\x00", "")
    if len(value) > max_length:
        raise InvalidInput(f"{name} is longer than {max_length} characters", where=name,
                           hint=f"shorten it to at most {max_length} characters")
    return value


def day(body: dict[str, Any], name: str, *, required: bool = False) -> date | None:
    raw = text(body, name, required=required, max_length=10)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} {raw!r} is not a date", where=name,
                           hint="write it as YYYY-MM-DD, e.g. 2024-06-01") from None


def flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", ""):
        return value.lower() in ("true", "1", "yes")
    raise InvalidInput(f"{name} must be true or false", where=name, hint="send true or false")


def integer(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{name} must be a whole number", where=name, hint="e.g. 12")
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number", where=name, hint="e.g. 12") from None


def codes(body: dict[str, Any], name: str, *, max_items: int = 2000) -> list[str]:
    value = body.get(name) or []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of codes", where=name,
                           hint='e.g. ["ODT-01", "TMD-02"]')
    if len(value) > max_items:
        raise InvalidInput(f"{name} lists more than {max_items} codes", where=name,
                           hint="set replaces_all instead when the whole plan is replaced")
    return sorted({unicodedata.normalize("NFC", v.strip()) for v in value if v.strip()})


def project_code(body: dict[str, Any]) -> str:
    value = text(body, "project_code", required=True, max_length=60)
    assert value is not None
    if not PROJECT_CODE.match(value):
        raise InvalidInput(f"project_code {value!r} has characters a code cannot have",
                           where="project_code",
                           hint="letters, digits, '.', '_' and '-', e.g. QHCT-26041-01")
    return value
