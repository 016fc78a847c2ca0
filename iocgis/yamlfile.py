"""Reading the project's own YAML definition files (layers, scenario presets, styles, tilesets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from iocgis.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_definitions(path: Path, what: str) -> Any:
    """The parsed file, or ConfigError naming the file and the parser's reason."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"invalid {what}: {exc}", where=str(path),
                          hint="fix the file and restart") from None


def invalid(exc: ValidationError, what: str, where: str,
            names: dict[int, str] | None = None) -> ConfigError:
    """The first problem of a failed validation as a ConfigError naming the key: ``where``
    (a file, or a variable) and the path inside it (list positions replaced by ``names``)."""
    first = exc.errors()[0]
    loc = [names.get(p, p) if names and isinstance(p, int) else p for p in first["loc"]]
    key = ".".join(str(p) for p in loc)
    count = len(exc.errors())
    return ConfigError(f"invalid {what}: {first['msg']}", where=f"{where}: {key}" if key else where,
                       hint=f"fix the key and restart ({count} problem(s) in all)")


def validated[M: BaseModel](model: type[M], raw: Any, what: str, where: str) -> M:
    """``model`` validated from ``raw``, or ConfigError naming the file and the key."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid(exc, what, where) from None
