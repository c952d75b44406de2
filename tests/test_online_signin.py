"""Signing in to Trakt and Simkl, and refreshing Trakt's token, against the stand-ins
(``tests/fake_trakt.py``, ``tests/fake_simkl.py``) reached through the documented
``SCROBBLETRAY_*_URL`` overrides."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from app.core.destinations.online import signin
from app.core.destinations.online.signin import (
    Prompt,
    SignInFailed,
    Tokens,
    simkl_sign_in,
    trakt_refresh,
    trakt_revoke,
    trakt_sign_in,
)
from app.core.logs import redact
from tests.fake_simkl import FakeSimkl
from tests.fake_trakt import FakeTrakt

FAST = 0.05  # the poll interval the stand-ins advertise in these tests


@asynccontextmanager
async def trakt_at(monkeypatch: pytest.MonkeyPatch, **options: Any) -> AsyncIterator[FakeTrakt]:
    async with FakeTrakt(**{"interval": FAST, **options}) as fake:
        monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", fake.api_url)
        monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", fake.auth_url)
        yield fake


@asynccontextmanager
async def simkl_at(monkeypatch: pytest.MonkeyPatch, **options: Any) -> AsyncIterator[FakeSimkl]:
    async with FakeSimkl(**{"interval": FAST, **options}) as fake:
        monkeypatch.setenv("SCROBBLETRAY_SIMKL_API_URL", fake.api_url)
        yield fake


def polls(fake: FakeTrakt | FakeSimkl, path: str) -> list[tuple[float, int]]:
    return [(s.at, s.status) for s in fake.requests if s.path.startswith(path)]


async def trakt_api_status(fake: FakeTrakt, token: str) -> int:
    headers = {"trakt-api-key": fake.client_id, "trakt-api-version": "2", "Content-Type": "application/json",
               "Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as s, s.get(f"{fake.api_url}/users/settings", headers=headers) as r:
        return r.status


# -- the URLs ------------------------------------------------------------------------------
def test_base_urls_default_to_the_services_and_honour_the_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRAKT_API_URL", "TRAKT_AUTH_URL", "SIMKL_API_URL"):
        monkeypatch.delenv(f"SCROBBLETRAY_{name}", raising=False)
    assert (signin.trakt_api_url(), signin.trakt_auth_url(), signin.simkl_api_url()) == (
        "https://api.trakt.tv", "https://auth.trakt.tv", "https://api.simkl.com")
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_API_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", "http://127.0.0.1:2")
    monkeypatch.setenv("SCROBBLETRAY_SIMKL_API_URL", "http://127.0.0.1:3")
    assert (signin.trakt_api_url(), signin.trakt_auth_url(), signin.simkl_api_url()) == (
        "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")


async def test_oauth_on_the_api_host_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch) as t:
        monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", t.api_url)  # the wrong host
        with pytest.raises(SignInFailed) as failed:
            await trakt_sign_in(t.client_id, t.client_secret, lambda p: None)
        assert failed.value.reason == "refused"
        assert t.statuses("/oauth") == [404]


# -- Trakt device sign-in --------------------------------------------------------------------
@pytest.mark.parametrize("pending_polls", [0, 3])
async def test_trakt_sign_in_approved(monkeypatch: pytest.MonkeyPatch, pending_polls: int) -> None:
    async with trakt_at(monkeypatch) as t:
        prompts: list[Prompt] = []

        def on_prompt(prompt: Prompt) -> None:
            prompts.append(prompt)
            delay = pending_polls * FAST + FAST / 2
            asyncio.get_running_loop().call_later(delay, t.approve, prompt.user_code)

        before = time.time()
        tokens = await trakt_sign_in(t.client_id, t.client_secret, on_prompt)
        [prompt] = prompts
        assert prompt.verification_url == "https://auth.trakt.tv/activate" and prompt.interval == FAST
        assert abs(prompt.expires_at - (before + 600)) < 5
        assert tokens.refresh_token and t.grants[tokens.access_token].refresh_token == tokens.refresh_token
        assert tokens.expires_at is not None and abs(tokens.expires_at - (time.time() + 7 * 86400)) < 5
        statuses = [s for _, s in polls(t, "/oauth/device/token")]
        assert statuses[-1] == 200 and set(statuses[:-1]) <= {400}
        assert len(statuses) - 1 >= pending_polls
        assert await trakt_api_status(t, tokens.access_token) == 200
        assert "[redacted]" in redact(f"{tokens.access_token} {tokens.refresh_token} {t.client_secret}")
        assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)


async def test_trakt_429_slows_the_poll(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    async with trakt_at(monkeypatch, min_poll=0.5, device_expires_in=3) as t:  # advertises 0.05 s, wants 0.5 s
        approve = lambda p: asyncio.get_running_loop().call_later(0.3, t.approve, p.user_code)  # noqa: E731
        tokens = await trakt_sign_in(t.client_id, t.client_secret, approve)
        seen = polls(t, "/oauth/device/token")
        assert [s for _, s in seen] == [400, 429, 200]
        assert seen[1][0] - seen[0][0] < 0.2  # at the advertised interval
        assert seen[2][0] - seen[1][0] >= 1.0  # then at least 1 s slower
        assert tokens.access_token in t.grants
        assert "poll slower" in caplog.text
        for secret in (t.client_secret, tokens.access_token, tokens.refresh_token, *t.codes):
            assert secret not in caplog.text


@pytest.mark.parametrize("hook, reason, words", [
    ("deny", "denied", "declined"),
    ("expire", "expired", "expired"),
    ("forget", "invalid", "does not know"),
    ("use", "used", "already used"),
])
async def test_trakt_sign_in_failures_are_said_in_words(monkeypatch: pytest.MonkeyPatch, hook: str, reason: str,
                                                         words: str) -> None:
    async with trakt_at(monkeypatch) as t:
        def on_prompt(prompt: Prompt) -> None:
            code = t._by_user_code(prompt.user_code)
            if hook == "deny":
                t.deny(prompt.user_code)
            elif hook == "expire":
                t.expire(prompt.user_code)
            elif hook == "forget":
                t.codes.clear()
            else:
                code.state = "used"
        with pytest.raises(SignInFailed) as failed:
            await trakt_sign_in(t.client_id, t.client_secret, on_prompt)
        assert failed.value.reason == reason and words in str(failed.value) and failed.value.fix
        assert t.statuses("/oauth/device/token") == [{"denied": 418, "expired": 410, "invalid": 404,
                                                      "used": 409}[reason]]


async def test_trakt_code_expires_on_the_clients_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch, device_expires_in=0.3) as t:
        start = time.monotonic()
        with pytest.raises(SignInFailed) as failed:
            await trakt_sign_in(t.client_id, t.client_secret, lambda p: None)
        assert failed.value.reason == "expired" and "Start again" in (failed.value.fix or "")
        assert 0.25 < time.monotonic() - start < 1.0
        assert set(t.statuses("/oauth/device/token")) <= {400, 410}


async def test_trakt_sign_in_cancelled_promptly(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch, interval=5) as t:
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.1, cancel.set)
        start = time.monotonic()
        with pytest.raises(SignInFailed) as failed:
            await trakt_sign_in(t.client_id, t.client_secret, lambda p: None, cancel)
        assert failed.value.reason == "cancelled"
        assert time.monotonic() - start < 0.5
        assert t.statuses("/oauth/device/token") == []


async def test_trakt_wrong_secret_and_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch) as t:
        with pytest.raises(SignInFailed) as failed:
            await trakt_sign_in(t.client_id, "not-the-secret", lambda p: None)
        assert failed.value.reason == "refused" and "not-the-secret" not in str(failed.value)
        await t.down()
        with pytest.raises(SignInFailed) as failed:
            await trakt_sign_in(t.client_id, t.client_secret, lambda p: None)
        assert failed.value.reason == "network" and "retried" in (failed.value.fix or "")
        assert t.client_secret not in str(failed.value)


# -- Trakt refresh -------------------------------------------------------------------------
async def test_trakt_refresh_gives_a_new_pair_and_the_old_refresh_token_is_single_use(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch) as t:
        old = t.sign_in()
        async with aiohttp.ClientSession() as session:
            new = await trakt_refresh(t.client_id, t.client_secret, old.refresh_token, session=session)
            assert not session.closed  # a session passed in stays the caller's
        assert t.refreshes == 1 and new.access_token != old.access_token and new.refresh_token != old.refresh_token
        assert await trakt_api_status(t, new.access_token) == 200
        assert await trakt_api_status(t, old.access_token) == 401  # the old access token ended
        with pytest.raises(SignInFailed) as failed:
            await trakt_refresh(t.client_id, t.client_secret, old.refresh_token)
        assert failed.value.reason == "refused" and "Sign in to Trakt again" in (failed.value.fix or "")
        assert t.statuses("/oauth/token") == [200, 400]
        assert old.refresh_token not in str(failed.value)


async def test_trakt_access_tokens_expire_and_a_refresh_brings_them_back(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch, token_lifetime=0.3) as t:
        grant = t.sign_in()
        assert await trakt_api_status(t, grant.access_token) == 200
        await asyncio.sleep(0.35)
        assert await trakt_api_status(t, grant.access_token) == 401
        tokens = await trakt_refresh(t.client_id, t.client_secret, grant.refresh_token)
        assert tokens.expires_at is not None and tokens.expires_within(1) and not tokens.expires_within(0)
        assert await trakt_api_status(t, tokens.access_token) == 200
        t.expire_access_tokens()
        assert await trakt_api_status(t, tokens.access_token) == 401


async def test_trakt_refresh_network_error_can_be_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch) as t:
        grant = t.sign_in()
        await t.down()
        with pytest.raises(SignInFailed) as failed:
            await trakt_refresh(t.client_id, t.client_secret, grant.refresh_token)
        assert failed.value.reason == "network" and "retried" in (failed.value.fix or "")
        await t.up()
        t.fail_next(503)
        with pytest.raises(SignInFailed) as failed:
            await trakt_refresh(t.client_id, t.client_secret, grant.refresh_token)
        assert failed.value.reason == "network"
        assert (await trakt_refresh(t.client_id, t.client_secret, grant.refresh_token)).access_token in t.grants
        with pytest.raises(SignInFailed) as failed:
            await trakt_refresh(t.client_id, "wrong-secret", grant.refresh_token)
        assert failed.value.reason == "refused" and "client id and secret" in (failed.value.fix or "")


async def test_trakt_revoke_ends_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    async with trakt_at(monkeypatch) as t:
        grant = t.sign_in()
        await trakt_revoke(t.client_id, t.client_secret, grant.access_token)
        assert await trakt_api_status(t, grant.access_token) == 401
        with pytest.raises(SignInFailed) as failed:
            await trakt_refresh(t.client_id, t.client_secret, grant.refresh_token)
        assert failed.value.reason == "refused"
        with pytest.raises(SignInFailed) as failed:
            await trakt_revoke(t.client_id, "wrong-secret", grant.access_token)
        assert failed.value.reason == "refused"
        await t.down()
        with pytest.raises(SignInFailed) as failed:
            await trakt_revoke(t.client_id, t.client_secret, grant.access_token)
        assert failed.value.reason == "network"


async def test_cancel_ends_a_request_that_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # reads nothing, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("SCROBBLETRAY_TRAKT_AUTH_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SCROBBLETRAY_SIMKL_API_URL", f"http://127.0.0.1:{port}")
    try:
        for sign_in in (lambda c: trakt_sign_in("id", "s3cret-of-the-cancel-test", lambda p: None, c),
                        lambda c: simkl_sign_in("id", lambda p: None, c)):
            cancel = asyncio.Event()
            asyncio.get_running_loop().call_later(0.1, cancel.set)
            start = time.monotonic()
            with pytest.raises(SignInFailed) as failed:
                await sign_in(cancel)
            assert failed.value.reason == "cancelled" and time.monotonic() - start < 0.5
        assert len(held) == 2
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


# -- Simkl PIN -------------------------------------------------------------------------------
@pytest.mark.parametrize("pending_polls", [0, 3])
async def test_simkl_sign_in_approved(monkeypatch: pytest.MonkeyPatch, pending_polls: int) -> None:
    async with simkl_at(monkeypatch) as s:
        prompts: list[Prompt] = []

        def on_prompt(prompt: Prompt) -> None:
            prompts.append(prompt)
            asyncio.get_running_loop().call_later(pending_polls * FAST + FAST / 2, s.approve, prompt.user_code)

        tokens = await simkl_sign_in(s.client_id, on_prompt)
        [prompt] = prompts
        assert prompt.verification_url == "https://simkl.com/pin/" and prompt.interval == FAST
        assert tokens == Tokens(tokens.access_token) and tokens.access_token in s.tokens
        assert tokens.expires_at is None and not tokens.expires_within(10 ** 9)
        replies = [s for _, s in polls(s, "/oauth/pin/")]
        assert len(replies) >= pending_polls + 1 and set(replies) == {200}
        assert "[redacted]" in redact(tokens.access_token)


async def test_simkl_slow_down_slows_the_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    async with simkl_at(monkeypatch, min_poll=0.5, pin_expires_in=3) as s:  # advertises 0.05 s, wants 0.5 s
        approve = lambda p: asyncio.get_running_loop().call_later(0.3, s.approve, p.user_code)  # noqa: E731
        tokens = await simkl_sign_in(s.client_id, approve)
        times = [at for at, _ in polls(s, "/oauth/pin/")]
        assert len(times) == 3  # pending, "Slow down", OK
        assert times[1] - times[0] < 0.2 and times[2] - times[1] >= 1.0
        assert tokens.access_token in s.tokens


async def test_simkl_code_expires_on_the_clients_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    async with simkl_at(monkeypatch, pin_expires_in=0.4) as s:
        def on_prompt(prompt: Prompt) -> None:
            s.expire(prompt.user_code)
            s.approve(prompt.user_code)  # too late: an expired code gives no token
        start = time.monotonic()
        with pytest.raises(SignInFailed) as failed:
            await simkl_sign_in(s.client_id, on_prompt)
        assert failed.value.reason == "expired" and 0.35 < time.monotonic() - start < 1.0
        assert len(s.statuses("/oauth/pin/")) >= 3


async def test_simkl_unknown_code_bad_client_and_cancel(monkeypatch: pytest.MonkeyPatch) -> None:
    async with simkl_at(monkeypatch) as s:
        with pytest.raises(SignInFailed) as failed:
            await simkl_sign_in(s.client_id, lambda p: s.pins.clear())
        assert failed.value.reason == "invalid"
        with pytest.raises(SignInFailed) as failed:
            await simkl_sign_in("not-our-id", lambda p: None)
        assert failed.value.reason == "refused" and s.statuses("/oauth/pin")[-1] == 412
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.1, cancel.set)
        s.interval = 5
        start = time.monotonic()
        with pytest.raises(SignInFailed) as failed:
            await simkl_sign_in(s.client_id, lambda p: None, cancel)
        assert failed.value.reason == "cancelled" and time.monotonic() - start < 0.5
        await s.down()
        with pytest.raises(SignInFailed) as failed:
            await simkl_sign_in(s.client_id, lambda p: None)
        assert failed.value.reason == "network"


# -- Tokens ------------------------------------------------------------------------------------
def test_tokens_round_trip_and_bad_stored_values_say_so_without_the_value() -> None:
    tokens = Tokens("access-0123", "refresh-4567", 1_900_000_000.5)
    assert Tokens.from_json(tokens.to_json()) == tokens
    assert Tokens.from_json(Tokens("only-access").to_json()) == Tokens("only-access")
    for bad in ("{not json access-0123", '{"refresh_token": "r"}', '{"access_token": "a", "expires_at": "soon"}',
                '["access-0123"]', '{"access_token": "a", "refresh_token": 5}'):
        with pytest.raises(ValueError) as wrong:
            Tokens.from_json(bad)
        assert "access-0123" not in str(wrong.value)
    with pytest.raises(AssertionError):
        SignInFailed("odd", "x")
