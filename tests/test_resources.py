"""app.resources: the app's own files, whatever the working directory, and in a wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app.resources import resource_path

REPO = Path(__file__).resolve().parents[1]


def test_icons_are_found_next_to_the_code() -> None:
    assert resource_path("icons", "app.svg") == REPO / "app" / "resources" / "icons" / "app.svg"
    assert resource_path("icons", "app.svg").is_file()
    for state in ("ok", "attention", "error", "paused"):
        assert resource_path("icons", f"tray-{state}.svg").is_file()


def test_the_working_directory_does_not_matter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app" / "resources" / "icons").mkdir(parents=True)  # a decoy next to the cwd
    monkeypatch.chdir(tmp_path)
    assert resource_path("icons") == REPO / "app" / "resources" / "icons"
    assert resource_path("icons").is_absolute()


@pytest.mark.timeout(180)
def test_the_wheel_carries_the_icons_and_migrations(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-q", "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1000:]
    [wheel] = tmp_path.glob("scrobbletray-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "app/resources/icons/tray-ok.svg" in names
    assert "app/core/migrations/env.py" in names and "app/core/migrations/script.py.mako" in names
    assert "app/core/migrations/versions/0002_index_outcomes.py" in names
