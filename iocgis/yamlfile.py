"""Reading the project's own YAML definition files (layers, scenario presets, styles, tilesets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from iocgis.errors import ConfigError


def read_definitions(path: Path, what: str) -> Any:
    """The parsed file, or ConfigError naming the file and the parser's reason."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"invalid {what}: {exc}", where=str(path),
                          hint="fix the file and restart") from None
