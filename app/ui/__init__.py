"""The Qt tray app: tray icon, windows and dialogs over :class:`app.core.facade.Core`.

Everything here runs on the Qt main thread, which (through qasync) is also the asyncio
loop's thread; the only way in to the core is the facade, and the only place its events
become Qt signals is :mod:`app.ui.bridge`.
"""
