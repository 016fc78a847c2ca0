"""Once per window: events that repeat by the second (a map's tile reads, a scanner probing
hidden layers) are recorded the first time in each window, so the audit trail names everyone
who did it, from where and when (to within the window) without being flooded."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable


class AuditWindow:
    """Remembers when each key was last recorded (in this process)."""

    MAX_ENTRIES = 50_000  # forget expired entries beyond this, so memory stays bounded

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def due(self, key: Hashable, now: float | None = None) -> bool:
        """True (and remembered) when an event with this key must be recorded now."""
        if self.window_s <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.window_s:
                return False
            if len(self._last) >= self.MAX_ENTRIES:
                self._last = {k: t for k, t in self._last.items() if now - t < self.window_s}
            self._last[key] = now
            return True
