"""What the dossier routes share for the app's lifetime: settings and the file store."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

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
        """Built on first use per app (settings from the environment, the app's var_dir)."""
        app_state = request.app.state
        found = getattr(app_state, "planning_docs", None)
        if found is None:
            state: AppState = app_state.iocgis
            settings = PlanningSettings()
            found = cls(state, settings, store_for(settings, state.settings.var_dir))
            app_state.planning_docs = found
        return found
