"""Fixtures: a fresh data folder and a real running core per test."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from app.core.config import Paths, Settings
from app.core.credentials import set_secret
from app.core.facade import Core
from app.core.plex.service import TOKEN_KEY
from tests.fake_plex import FakePlexTv, FakePms
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



@pytest.fixture
async def plex(settings: Settings, paths: Paths) -> AsyncIterator[tuple[FakePlexTv, FakePms]]:
    """plex.tv and the account's own server "NAS", both stand-ins; signed in already as alice."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    async with FakePlexTv() as tv, FakePms(name="NAS", port=port) as pms:
        tv.servers.append(pms)
        token, _ = tv.add_user("alice")
        set_secret(paths, TOKEN_KEY, token)
        settings.plex_tv_url = tv.url
        yield tv, pms


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """The command line in-process on a fresh data folder (``run.data``): (exit code, out, err)."""
    from app.cli import main

    data = tmp_path / "data"

    def _run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), *args])
        out, err = capsys.readouterr()
        return code, out, err
    _run.data = data  # type: ignore[attr-defined]
    return _run
