"""A package's names loaded on first use (PEP 562): ``__getattr__ = lazy_exports(...)``, so
importing the package for one light module (its settings) does not load its heavy ones."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The package's ``__getattr__``: ``exports`` maps a name to its submodule; a name found
    is kept in ``namespace`` (the package's globals) so the next access is a plain lookup."""
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    return __getattr__
