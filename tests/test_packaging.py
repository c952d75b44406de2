"""Packaging files: desktop entries, the runtime hook, Windows version info, the scripts.

The build itself is proven by packaging/build.sh (it builds and runs the bundle); these
tests check the pieces that can be checked without building.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from types import ModuleType

import pytest

from app import __version__

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"


def _desktop_entry(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(PACKAGING / "linux" / name, encoding="utf-8")
    return parser["Desktop Entry"]


@pytest.mark.parametrize("name", ["scrobbletray.desktop", "scrobbletray-autostart.desktop"])
def test_desktop_entries_launch_the_app(name: str) -> None:
    entry = _desktop_entry(name)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Scrobble Tray"
    assert entry["Exec"] == "scrobbletray"  # install.sh makes it absolute
    assert entry["Icon"] == "scrobbletray"
    assert entry["Terminal"] == "false"


def test_autostart_entry_matches_what_the_app_writes() -> None:
    from app.ui.autostart import Autostart  # Qt-free: builds the text only

    written = configparser.ConfigParser(interpolation=None)
    written.optionxform = str  # type: ignore[assignment,method-assign]
    written.read_string(Autostart(Path("/nonexistent/x.desktop"), ["scrobbletray"], True).desktop_entry())
    packaged = _desktop_entry("scrobbletray-autostart.desktop")
    for key, value in written["Desktop Entry"].items():
        assert packaged.get(key) == value, key


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
@pytest.mark.parametrize("name", ["scrobbletray.desktop", "scrobbletray-autostart.desktop"])
def test_desktop_entries_are_valid(name: str) -> None:
    result = subprocess.run(["desktop-file-validate", str(PACKAGING / "linux" / name)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def _runtime_hook() -> ModuleType:
    path = PACKAGING / "pyinstaller" / "rthook_scrobbletray.py"
    spec = importlib.util.spec_from_file_location("rthook_scrobbletray", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runtime_hook_does_nothing_when_not_frozen() -> None:
    before = dict(os.environ)
    _runtime_hook()
    assert dict(os.environ) == before


def test_runtime_hook_finds_a_ca_bundle_only_when_openssl_has_none(tmp_path: Path) -> None:
    hook = _runtime_hook()
    system = tmp_path / "etc-pki-ca-bundle.crt"
    system.write_text("certs")
    certifi = tmp_path / "certifi.pem"
    certifi.write_text("certs")
    missing = str(tmp_path / "missing")
    default = tmp_path / "default.pem"
    default.write_text("certs")
    full_dir, empty_dir = tmp_path / "certs", tmp_path / "empty"
    full_dir.mkdir()
    (full_dir / "abcd.0").write_text("cert")
    empty_dir.mkdir()

    pick = hook.pick_ca_file
    # OpenSSL's compiled-in file or folder exists: leave it alone.
    assert pick({}, str(default), missing, [str(system)]) is None
    assert pick({}, missing, str(full_dir), [str(system)]) is None
    # The user chose: leave it alone.
    assert pick({"SSL_CERT_FILE": "/x"}, missing, missing, [str(system)]) is None
    assert pick({"SSL_CERT_DIR": "/x"}, missing, missing, [str(system)]) is None
    # Nothing where this OpenSSL looks: the system's bundle, else certifi's, else nothing.
    assert pick({}, missing, str(empty_dir), [missing, str(system)]) == str(system)
    assert pick({}, missing, missing, [missing], certifi_file=str(certifi)) == str(certifi)
    assert pick({}, missing, missing, [missing], certifi_file=None) is None


def test_windows_version_info_fills_in_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    # The parser module imports Windows-only helpers at the top; the parsing itself does
    # not use them. Stubs for the test's duration only.
    import PyInstaller.compat as compat

    if "pefile" not in sys.modules:
        monkeypatch.setitem(sys.modules, "pefile", types.ModuleType("pefile"))
    monkeypatch.setattr(compat, "win32api", getattr(compat, "win32api", None), raising=False)
    name = "PyInstaller.utils.win32.versioninfo"
    monkeypatch.delitem(sys.modules, name, raising=False)
    versioninfo = importlib.import_module(name)
    monkeypatch.setitem(sys.modules, name, versioninfo)  # forgotten again afterwards

    template = (PACKAGING / "windows" / "version_info.txt").read_text(encoding="utf-8")
    assert "$VERSION_TUPLE" in template and "$VERSION" in template
    numbers = [int(n) for n in re.findall(r"\d+", __version__)[:3]] + [0]
    text = template.replace("$VERSION_TUPLE", ", ".join(map(str, numbers))).replace("$VERSION", __version__)
    info = eval(text, vars(versioninfo))  # what load_version_info_from_text_file does
    assert isinstance(info, versioninfo.VSVersionInfo)
    assert info.ffi.fileVersionMS == (numbers[0] << 16) | numbers[1]
    assert f"'ProductVersion', '{__version__}'" in str(info)
    assert len(info.toRaw()) > 0


def test_windows_installer_installs_what_the_spec_builds() -> None:
    iss = (PACKAGING / "windows" / "scrobbletray.iss").read_text(encoding="utf-8")
    spec = (REPO / "build.spec").read_text(encoding="utf-8")
    assert 'SLUG = "scrobbletray"' in spec
    assert '#define AppExe "scrobbletray.exe"' in iss
    assert r'Source: "{#Root}\dist\scrobbletray\*"' in iss


@pytest.mark.parametrize("script", ["build.sh", "smoke-gui.sh", "linux/make-tarball.sh", "linux/install.sh"])
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = PACKAGING / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
