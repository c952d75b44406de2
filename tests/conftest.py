"""Fixtures: a fresh data folder and a real running core per test."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.core.config import Paths, Settings
from app.core.facade import Core
from tests.helpers import BREAKING_BAD

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the real keyring of whoever runs the tests: the "fail" backend makes the
# app fall back to its private file in the test's data folder.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("NGROK_AUTHTOKEN", None)


@pytest.fixture(autouse=True)
def no_ngrok_download(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the internet: an agent download goes to a closed local port."""
    from pyngrok import installer

    for key in list(installer.PLATFORMS):
        monkeypatch.setitem(installer.PLATFORMS, key, "http://127.0.0.1:9/ngrok-download-blocked.zip")


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """A command run in-process (``serve``) configures the root logger for its process; the
    next test must not log into this test's captured (then closed) stderr."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in set(root.handlers) - set(handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    p = Paths(tmp_path / "data")
    p.ensure()
    return p


@pytest.fixture
def settings() -> Settings:
    """The tests are the Plex server, on this computer (over loopback): as the user would say.
    Shows are not added from Plex's ids by themselves, so that conflicts can be tested; the
    tests of that (on by default) turn it on."""
    return Settings(port=0, rate_limit_per_minute=0, plex_location="this", auto_add_shows=False)


@pytest.fixture
async def core(paths: Paths, settings: Settings) -> AsyncIterator[Core]:
    """A started core on 127.0.0.1 (free port) with Breaking Bad in its tracker."""
    c = Core(paths, settings)
    await c.start()
    assert c.runtime.store is not None
    await c.runtime.run(c.runtime.store.add_show, **BREAKING_BAD)
    yield c
    await c.stop()

