"""The tray app idles light (issue 26, "Lighter"): at start it builds no window and imports
no window's module, nor the tunnel's agent, and the core's modules are imported before Qt
(whose import hook would keep their source in memory: see :mod:`app.ui`).

The app runs in a fresh interpreter (offscreen), as ``python -m app`` runs it but with a
tray, so what it imported is its own doing and not the test session's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.core.config import Paths, PlexLocation, Settings, save_settings
from app.core.runtime import open_store

ROOT = Path(__file__).parents[2]

#: Runs the tray app until its core listens, then prints what it built and imported, and quits.
PROBE = """
import json, linecache, sys
from pathlib import Path
from app.core.config import Paths, load_settings
from app.ui import app as ui_app  # (first, as app.main imports it)
from PySide6.QtWidgets import QApplication

made = []
class Recorded(ui_app.UiController):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        made.append(self)
        self.core.events.subscribe(lambda event: listening())
ui_app.UiController = Recorded
found = {}

def listening():
    if made and made[0].core.status.server == "listening" and not found:
        found["windows"] = sorted(type(w).__name__ for w in QApplication.topLevelWidgets() if w.isWindow())
        found["status window built"] = made[0]._status_window is not None
        found["modules"] = [m for m, mod in sys.modules.items() if type(mod).__name__ != "_LazyModule"]
        found["sources kept"] = [k for k in linecache.cache
                                 if k.endswith(".py") and ("sqlalchemy" in k or "aiohttp" in k)]
        QApplication.instance().quit()

paths = Paths(Path(sys.argv[1]))
code = ui_app.run(paths, load_settings(paths), sys.argv[:1], tray_available=True)
print(json.dumps({"code": code, **found}))
"""

#: Built or imported when first shown, never at start.
WINDOWS = ("app.ui.status_window", "app.ui.settings_window", "app.ui.setup_wizard", "app.ui.scrobbles_window",
           "app.ui.tracker_window", "app.ui.diagnostics_window", "app.ui.conflicts_dialog")


def test_the_tray_app_starts_without_building_a_window_or_loading_the_tunnel(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    save_settings(paths, Settings(plex_location=PlexLocation.THIS, port=0))
    open_store(paths, Settings())  # (migrated, as at any start but the first)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", PROBE, str(paths.data_dir)], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["code"] == 0 and "modules" in found, found
    assert not found["status window built"]
    assert "StatusWindow" not in found["windows"]
    heavy = [m for m in found["modules"] if m in WINDOWS or m.split(".")[0] in ("pyngrok", "yaml")
             or m.startswith("app.core.tunnel")]
    assert heavy == []
    # Imported before Qt, their modules were not read by its hook (~150 were when imported after);
    # an import in a function that runs later, ``from sqlalchemy import text``, reads that one only.
    assert len(found["sources kept"]) <= 5, found["sources kept"]
