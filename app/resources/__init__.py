"""The app's own files (icons), found the same way from source, a wheel and a frozen bundle.

Through ``importlib.resources``, never relative to the working directory: in a
PyInstaller bundle ``build.spec`` ships this folder as ``<sys._MEIPASS>/app/resources``,
where the frozen importer finds it. Qt-free.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The path of ``app/resources/<parts...>``, e.g. ``resource_path("icons", "app.svg")``.

    The file is not required to exist; callers check when it matters.
    """
    return Path(str(files(__name__).joinpath(*parts)))
