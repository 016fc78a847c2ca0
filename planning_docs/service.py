"""What the dossier routes share for the app's lifetime: settings and the file store."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from iocgis.api.kit.parts import app_part
from iocgis.api.state import AppState
from iocgis.planning_docs.filestore import FileStore, store_for
from iocgis.planning_docs.settings import PlanningSettings


@dataclass(frozen=True)
class Planning:
    state: AppState
    settings: PlanningSettings
    store: FileStore

    @classmethod
    def of(cls, request: Request) -> Planning:
        """Built on first use per app (the app's planning settings and var_dir)."""
        def build(state: AppState) -> Planning:
            settings = state.settings.planning
            return cls(state, settings, store_for(settings, state.settings.var_dir))

        return app_part(request, "planning_docs", build)
