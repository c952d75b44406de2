"""ruff and mypy, as part of the test run (and so of CI, which runs the README's command).

Their settings are in pyproject.toml: ruff over app/ and tests/, mypy over app/ (strict in
app.core). Each runs as its own process from the repository's root, as a developer would
run it; a failure shows what they said.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = _run("ruff", "check", "--no-cache", "app", "tests")
    assert result.returncode == 0, f"ruff check app tests:\n{result.stdout}{result.stderr}"


@pytest.mark.timeout(300)  # a first run, with no cache, takes a while on a small machine
def test_mypy_finds_nothing() -> None:
    result = _run("mypy")
    assert result.returncode == 0, f"mypy (files and settings: pyproject.toml):\n{result.stdout}{result.stderr}"
