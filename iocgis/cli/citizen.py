"""``iocgis citizen``: the commands live beside the feature (iocgis/citizen/cli.py)."""

from iocgis.citizen.cli import register

__all__ = ["register"]
