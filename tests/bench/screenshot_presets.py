"""The relay's add dialog with a tracker chosen by name, for resources/screenshots/: part of
tests/bench/screenshots.py, and runnable alone:

    python tests/bench/screenshot_presets.py [--out resources/screenshots]

Yamtrack's stand-in (tests/fake_selfhosted.py) answers the dialog's Test over real HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import qasync
from PySide6.QtWidgets import QApplication

from app.core.config import Paths, Settings
from app.core.facade import Core
from app.ui.autostart import Autostart
from app.ui.controller import UiController
from tests.bench.screenshots import ROOT, save, until
from tests.fake_selfhosted import Yamtrack


async def relay_preset(ui: UiController, out: Path, secrets: list[str]) -> None:
    """Yamtrack chosen: host, port and token, the URL built and masked, its notes, a Test answered."""
    async with Yamtrack(token="9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c") as yamtrack:
        settings = ui.show_settings()
        page = settings.show_destinations()
        dialog = page.open_add_dialog()
        dialog.tracker.setCurrentIndex(dialog.tracker.findData("yamtrack"))
        dialog.host.setText("127.0.0.1")
        dialog.port.setValue(yamtrack.port)
        dialog.token.setText(yamtrack.token)
        dialog.label.setText("Yamtrack on the NAS")
        dialog.run_test()
        await until(lambda: "took the token" in dialog.test_result.text())
        dialog.adjustSize()
        await asyncio.sleep(0.1)
        save(dialog, "relay-preset", out, [*secrets, yamtrack.token])
        dialog.close()
        settings.close()


async def render(out: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="scrobbletray-shots-"))
    core = Core(Paths(data / "data"), Settings(port=0))
    await core.start()
    ui = UiController(core, tray_available=True,
                      autostart=Autostart(data / "autostart.desktop", command=["scrobbletray"], supported=True))
    out.mkdir(parents=True, exist_ok=True)
    try:
        await relay_preset(ui, out, core.secrets())
    finally:
        await core.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshots")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(render(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
