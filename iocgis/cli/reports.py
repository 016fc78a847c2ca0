"""``iocgis reports``: the commands live beside the feature (reports/cli.py)."""

from iocgis.reports.cli import register

__all__ = ["register"]
