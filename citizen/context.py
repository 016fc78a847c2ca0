"""What the citizen routes share for the application's lifetime: the process definitions, the
working calendar, the key set, and the application's pool and reader."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from iocgis.access.database import Reader
from iocgis.api.kit.parts import app_part
from iocgis.api.state import AppState
from iocgis.citizen.calendar import WorkingCalendar
from iocgis.citizen.definitions import Process, get_process
from iocgis.citizen.keyring import ENV_KEYS, Keyring, keys_path, load_keyring
from iocgis.layers import Registry


@dataclass
class CitizenContext:
    state: AppState
    process: Process
    calendar: WorkingCalendar
    _keyring: Keyring
    _keys_stamp: float | None = None

    @classmethod
    def build(cls, state: AppState) -> CitizenContext:
        process = get_process()
        context = cls(state=state, process=process,
                      calendar=WorkingCalendar.from_strings(process.routing.extra_days_off),
                      _keyring=load_keyring(state.settings))
        context._keys_stamp = context._stamp()
        return context

    def _stamp(self) -> float | None:
        path = keys_path(self.state.settings)
        return path.stat().st_mtime if path.exists() else None

    @property
    def keyring(self) -> Keyring:
        """The key set, read again when its file changed (``iocgis citizen rotate-key``)."""
        if self._keyring.source != ENV_KEYS and self._stamp() != self._keys_stamp:
            self._keyring = load_keyring(self.state.settings)
            self._keys_stamp = self._stamp()
        return self._keyring

    @classmethod
    def of(cls, request: Request) -> CitizenContext:
        """The application's context, built on its first citizen request."""
        return app_part(request, "citizen", cls.build)

    @property
    def reader(self) -> Reader:
        return self.state.reader

    @property
    def pool(self) -> AsyncConnectionPool:
        return self.state.pool

    @property
    def registry(self) -> Registry:
        return self.state.registry
