"""Entry script of the frozen app (build.spec): the same ``main`` as ``python -m app``.

It lives outside the ``app`` package so that PyInstaller does not put ``app/`` itself on
the module search path (which would make ``core`` importable as a top-level package).
"""

import sys


def _attach_parent_console() -> None:
    """Give a windowed Windows build the console of the command prompt that started it.

    Without this, ``scrobbletray.exe --self-test`` or ``shows list`` typed in a console
    print nothing (``sys.stdout`` is None in a windowed program). Started from Explorer
    or at login there is no parent console and nothing changes. Note that cmd.exe does
    not wait for a windowed program: use ``start /wait scrobbletray.exe ...``.
    """
    if sys.platform != "win32" or sys.stdout is not None or len(sys.argv) < 2:
        return
    try:
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace", buffering=1)
            sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace", buffering=1)
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    _attach_parent_console()
    from app.main import main

    sys.exit(main())
