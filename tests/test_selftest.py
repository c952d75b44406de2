"""``scrobbletray --self-test``: passes on a healthy install, fails clearly when something breaks.

Run from source as a subprocess, the way a user (or packaging/build.sh on the frozen
build) runs it: headless, with a private temporary folder and a decoy "real" data folder
that must stay untouched.
"""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__, selftest
from app.selftest import checks, end_to_end
from app.selftest import report as steps

REPO = Path(__file__).resolve().parents[1]
STEPS = ("load core", "migration scripts", "resources", "fuzzy matching", "keyring", "TLS certificates",
         "ngrok installer", "PostgreSQL driver", "Plex sign-in", "start core", "add show", "post scrobble", "processed",
         "episode marked", "movie counted", "stop core")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "NGROK_AUTHTOKEN",
                        end_to_end.DATABASE_URL_ENV)}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(TMPDIR=str(tmp_path / "tmp"), HOME=str(tmp_path / "home"),
               SCROBBLETRAY_HOME=str(tmp_path / "real-data"),
               XDG_DATA_HOME=str(tmp_path / "home" / "share"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", PYTHONPATH=str(REPO))
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, code: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "app", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=_env(tmp_path, **env), capture_output=True,
                          text=True, timeout=60)


def _assert_clean(tmp_path: Path) -> None:
    """Nothing left in the temporary folder; the user's data folder never made."""
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "real-data").exists()
    assert not (tmp_path / "home" / "share" / "scrobbletray").exists()


def test_passes_from_source_and_reports_every_step(tmp_path: Path) -> None:
    result = _run(tmp_path, "--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith(f"Scrobble Tray {__version__} self-test\n")
    assert "from source" in out and f"python {sys.version.split()[0]}" in out
    assert f"data folder: {tmp_path / 'tmp'}" in out
    for name in STEPS:
        line = next((ln for ln in out.splitlines() if f"  {name} " in ln), None)
        assert line is not None, f"step {name!r} missing:\n{out}"
        assert line.split()[0] in ("ok", "warn") and " ms" in line, line
    assert "event #1 marked on show #1" in out
    assert "S01E01 watched (1x)" in out
    assert "SELF-TEST PASSED: 16 steps" in out
    assert result.stderr == ""
    _assert_clean(tmp_path)


def test_a_broken_database_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = _run(tmp_path, "--self-test", **{end_to_end.DATABASE_URL_ENV: "nosuchdialect://nowhere"})
    assert result.returncode == 1
    out = result.stdout
    failed = [ln for ln in out.splitlines() if ln.startswith("  FAIL")]
    assert len(failed) == 1 and "start core" in failed[0], out
    assert "not a database URL that can be used: nosuchdialect://nowhere" in failed[0]
    assert "SELF-TEST FAILED" in out and "start core:" in out.splitlines()[-1]
    assert "add show" not in out  # nothing ran on a core that did not start
    assert "Traceback" not in out + result.stderr
    _assert_clean(tmp_path)


def test_never_imports_qt_and_writes_a_file_without_stdout(tmp_path: Path) -> None:
    """A windowed build has no stdout: the report then goes to a file in the temp folder."""
    code = ("import sys\n"
            "from app.selftest import run_self_test\n"
            "real, sys.stdout = sys.stdout, None\n"
            "rc = run_self_test()\n"
            "real.write('QT\\n' if any(m.split('.')[0] in ('PySide6', 'shiboken6') for m in sys.modules) "
            "else 'NOQT\\n')\n"
            "sys.exit(rc)\n")
    result = _run(tmp_path, code=code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "NOQT\n"
    report = tmp_path / "tmp" / selftest.REPORT_FILE_NAME
    text = report.read_text(encoding="utf-8")
    assert "SELF-TEST PASSED" in text and f"(this report is also in {report})" in text
    report.unlink()
    _assert_clean(tmp_path)


def test_an_unmarked_episode_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks look at the outcome: a scrobble for a show not in the tracker must fail."""
    payload = copy.deepcopy(end_to_end.SAMPLE_SCROBBLE)
    meta = payload["Metadata"]
    meta.update(grandparentTitle="No Such Show Anywhere", year=1901,
                grandparentGuid="com.plexapp.agents.themoviedb://999999999?lang=en",
                guid="com.plexapp.agents.themoviedb://999999999/1/1?lang=en",
                parentGuid="com.plexapp.agents.themoviedb://999999999/1?lang=en")
    monkeypatch.setattr(end_to_end, "SAMPLE_SCROBBLE", payload)
    out = io.StringIO()
    assert selftest.run_self_test(out) == 1
    text = out.getvalue()
    failed = [ln for ln in text.splitlines() if ln.startswith("  FAIL")]
    assert len(failed) == 1 and "processed" in failed[0] and "was conflict" in failed[0], text
    assert "stop core" in text and "SELF-TEST FAILED" in text


def test_a_step_that_hangs_fails_after_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def forever() -> str:
        await asyncio.sleep(3600)
        return "never"

    monkeypatch.setattr(steps, "STEP_TIMEOUT", 0.2)
    monkeypatch.setattr(checks, "check_ngrok_installer", forever)
    out = io.StringIO()
    assert selftest.run_self_test(out) == 1
    assert "FAIL  ngrok installer" in out.getvalue() and "no result within 0.2 s" in out.getvalue()
