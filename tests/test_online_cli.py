"""Trakt and Simkl from the command line (a check uses these names): add-trakt with its
secret on standard input, add-simkl, login (the code printed, exit 0 once allowed) and
logout, against the stand-ins."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app.core.config import Paths
from app.core.credentials import get_secret
from tests.fake_simkl import FakeSimkl
from tests.fake_trakt import FakeTrakt

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
async def services(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeTrakt, FakeSimkl]]:
    trakt, simkl = FakeTrakt(interval=0.05, post_interval=0.0), FakeSimkl(interval=0.05)
    await trakt.start()
    await simkl.start()
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", trakt.api_url)
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", trakt.auth_url)
    monkeypatch.setenv("SCROBBLETRAY_SIMKL_API_URL", simkl.api_url)
    yield trakt, simkl
    await trakt.close()
    await simkl.close()


async def cli(run: Run, *args: str) -> tuple[int, str, str]:
    """The command line on its own thread (it runs its own event loop, as in a terminal)."""
    return await asyncio.to_thread(run, *args)


async def approve_when_asked(codes: Callable[[], list[str]], approve: Callable[[str], None]) -> str:
    for _ in range(500):
        if found := codes():
            approve(found[-1])
            return found[-1]
        await asyncio.sleep(0.01)
    raise AssertionError("no code was asked for")


async def test_trakt_added_with_its_secret_on_stdin_signed_in_and_out(
        run: Run, services: tuple[FakeTrakt, FakeSimkl], monkeypatch: pytest.MonkeyPatch) -> None:
    trakt, _ = services
    monkeypatch.setattr("sys.stdin", io.StringIO("trakt-secret\n"))
    code, out, err = await cli(run, "destinations", "add-trakt", "--client-id", "trakt-cid", "--client-secret-stdin")
    assert code == 0, err
    assert "Added trakt-1" in out and "destinations login trakt-1" in out
    paths = Paths(run.data)  # type: ignore[attr-defined]
    assert "trakt-secret" not in paths.settings_file.read_text()
    assert get_secret(paths, "trakt-1-client-secret") == "trakt-secret"
    code, out, _ = await cli(run, "destinations", "list", "--json")
    row = next(r for r in json.loads(out) if r["id"] == "trakt-1")
    assert row["needs"] == "not signed in to Trakt" and "destinations login trakt-1" in row["fix"]

    login = asyncio.create_task(cli(run, "destinations", "login", "trakt-1"))
    user_code = await approve_when_asked(lambda: [c.user_code for c in trakt.codes.values()], trakt.approve)
    code, out, err = await login
    assert code == 0, err
    assert user_code in out and "https://auth.trakt.tv/activate" in out
    assert "Signed in to Trakt as" in out
    tokens = json.loads(get_secret(paths, "trakt-1-tokens") or "{}")
    assert tokens["access_token"] in trakt.grants
    code, out, _ = await cli(run, "destinations", "list", "--json")
    assert next(r for r in json.loads(out) if r["id"] == "trakt-1")["needs"] is None
    settings = json.loads(paths.settings_file.read_text())
    assert settings["trakt"][0]["account"] and tokens["access_token"] not in paths.settings_file.read_text()

    code, out, _ = await cli(run, "destinations", "logout", "trakt-1")
    assert code == 0 and "Signed trakt-1 out" in out
    assert get_secret(paths, "trakt-1-tokens") is None
    code, out, _ = await cli(run, "destinations", "list")
    assert "trakt-1" in out and "trakt.tv" in out


async def test_trakt_needs_its_secret_and_a_refused_login_says_why(
        run: Run, services: tuple[FakeTrakt, FakeSimkl], monkeypatch: pytest.MonkeyPatch) -> None:
    trakt, _ = services
    with pytest.raises(SystemExit) as refused:
        await cli(run, "destinations", "add-trakt", "--client-id", "trakt-cid")
    assert refused.value.code == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("trakt-secret\n"))
    assert (await cli(run, "destinations", "add-trakt", "--client-id", "trakt-cid", "--client-secret-stdin"))[0] == 0
    login = asyncio.create_task(cli(run, "destinations", "login", "trakt-1"))
    await approve_when_asked(lambda: [c.user_code for c in trakt.codes.values()], trakt.deny)
    code, _, err = await login
    assert code == 2 and "You declined the request on trakt.tv" in err and "Allow" in err, err
    assert "Traceback" not in err


async def test_simkl_added_and_signed_in_by_pin(run: Run, services: tuple[FakeTrakt, FakeSimkl]) -> None:
    _, simkl = services
    code, out, err = await cli(run, "destinations", "add-simkl", "--client-id", "simkl-cid", "--live")
    assert code == 0, err
    login = asyncio.create_task(cli(run, "destinations", "login", "simkl-1"))
    pin = await approve_when_asked(lambda: list(simkl.pins), simkl.approve)
    code, out, err = await login
    assert code == 0, err
    assert pin in out and "simkl.com/pin" in out and "Signed in to Simkl as Sam Simkl." in out
    settings = json.loads(Path(run.data, "settings.json").read_text())  # type: ignore[attr-defined]
    assert settings["simkl"] == [{"id": "simkl-1", "url": "https://simkl.com", "client_id": "simkl-cid",
                                  "live": True, "enabled": True, "label": "", "account": "Sam Simkl"}]
