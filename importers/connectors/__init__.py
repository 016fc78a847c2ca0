"""Connectors: departments' systems feed layers on a schedule, each run an import like any
other (importers/pipeline.py: CRS, encodings, rules, quality report, staging, diff, approval,
atomic swap). Definitions are data (``layers/sources/*.yaml``, ``model.py``); credentials
come from a secrets file outside the repository (``secrets.py``); ``fetch.py`` pulls a source
page by page into a local file, ``run.py`` imports it and keeps the source's state
(``connectors.sources``, ``connectors.runs``, ``connectors.alerts``).
"""
