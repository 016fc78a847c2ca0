"""Each worker's own cache of verified API keys, in front of the workers' shared one (Redis)
and of PostgreSQL: a request with a cached key costs no round trip at all.

It holds what the shared cache holds (the row a key resolves to, never the key: a hit still
compares the key's hash), for ``KEY_CACHE_TTL_S`` at most and never past the key's, the
account's or the agreement's next expiry (``valid_until``). It is trusted only while the
worker's NOTIFY listener (``iocgis.changes``) is connected: the listener empties it when it
connects, drops an account's entries the moment a change to its keys, its status or its
agreement is notified, and switches it off when it loses the database. So a revocation stops a
key in every worker as soon as the notice arrives, as it does for the shared cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from iocgis.shared_state import KEY_CACHE_TTL_S

MAX_ENTRIES = 10_000


class LocalKeyCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.listening = False
        # prefix -> (expires at, on the monotonic clock; account id; row)
        self._entries: OrderedDict[str, tuple[float, int, dict[str, Any]]] = OrderedDict()

    def open(self) -> None:
        """The listener is connected: start from nothing (notices may have been missed)."""
        self._entries.clear()
        self.listening = True

    def close(self) -> None:
        """The listener lost the database: no entry can be trusted until it is back."""
        self.listening = False
        self._entries.clear()

    def get(self, prefix: str) -> dict[str, Any] | None:
        if not self.listening:
            return None
        entry = self._entries.get(prefix)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[prefix]
            return None
        return entry[2]

    def put(self, prefix: str, account_id: int, row: dict[str, Any]) -> None:
        """Keep a verified key's row until its ``valid_until`` (epoch seconds), at most
        ``KEY_CACHE_TTL_S``."""
        if not self.listening:
            return
        valid_until = row.get("valid_until")
        ttl = KEY_CACHE_TTL_S if valid_until is None else min(KEY_CACHE_TTL_S,
                                                              float(valid_until) - time.time())
        if ttl < 1:
            return
        self._entries[prefix] = (time.monotonic() + ttl, account_id, row)
        self._entries.move_to_end(prefix)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop_account(self, account_id: int | None) -> None:
        """Forget the keys of an account (``None``: of every account)."""
        if account_id is None:
            self._entries.clear()
            return
        for prefix in [p for p, (_, owner, _) in self._entries.items() if owner == account_id]:
            del self._entries[prefix]
