"""The numba functions a package defines (for the diagnostics that read compiled code)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator


def compiled_functions(package) -> Iterator[tuple[str, str, object]]:
    """Every numba dispatcher defined in one of ``package``'s modules (not those it imports):
    ``(label "module.name", name, dispatcher)``."""
    from numba.core.registry import CPUDispatcher

    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, f in vars(module).items():
            if isinstance(f, CPUDispatcher) and f.__module__ == module.__name__:
                yield f"{info.name}.{name}", name, f
