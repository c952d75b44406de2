"""Third-party packages loaded when first used, not when the module naming them is imported.

``import aiohttp`` at the top of a module costs a command that never sends a request
~0.1-0.2 s (aiohttp loads its client, its server and the SSL set-up). A module that
needs it only inside its functions writes instead::

    if TYPE_CHECKING:
        import aiohttp
    else:
        aiohttp = lazy("aiohttp")

and the real package loads on the first attribute read (:class:`importlib.util.LazyLoader`).
An ``import aiohttp`` statement elsewhere loads it at once, as before (the import system
reads the module's ``__spec__``). Python's LazyLoader is not thread-safe before 3.12: the
processes that serve load aiohttp at start, on the main thread (the webhook server
imports ``aiohttp.web``), before any other thread could race to it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """The package ``name``: itself when loaded, else a stand-in that loads it on first use."""
    if (found := sys.modules.get(name)) is not None:
        return found
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
