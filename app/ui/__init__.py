"""The Qt tray app: tray icon, windows and dialogs over :class:`app.core.facade.Core`.

Everything here runs on the Qt main thread, which (through qasync) is also the asyncio
loop's thread; the only way in to the core is the facade, and the only place its events
become Qt signals is :mod:`app.ui.bridge`.

The core's modules that the app's start needs are imported here, before any module of
this package imports Qt: PySide6 hooks every import made after its own to read the new
module's source (``shibokensupport.feature``, looking for ``__feature__`` use), and that
source stays in ``linecache``. The core (SQLAlchemy, aiohttp) imported after Qt so cost
~25 MB more memory than before it (tests/bench/memory.py; tests/ui/test_app.py checks).
"""

from sqlalchemy.dialects import sqlite  # noqa: F401  (before Qt: see above; the database's, loaded at start)

from app.core import control, facade, inbox, webhooks, worker  # noqa: F401
