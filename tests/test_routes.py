"""Whose plays go where: each accepted account's route to its own destinations, over real
HTTP (two stand-in web trackers behind two relays), through the CLI and the running app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app import cli
from app.core.config import Paths, Settings, load_settings, save_settings
from app.core.destinations.sender import Timing
from app.core.facade import Core
from app.core.pipeline import PlexKnows
from app.core.types import DeliveryState
from tests.fake_tracker import FakeTracker
from tests.helpers import BREAKING_BAD, episode_payload, post, settled, wait_for, webhook_url

SECRET = "ef" * 32
FAST = Timing(timeout=1.0, backoff_base=0.05, backoff_cap=0.3)


@pytest.fixture
async def trackers() -> AsyncIterator[tuple[FakeTracker, FakeTracker]]:
    a, b = FakeTracker(secret=SECRET, limit=0), FakeTracker(secret=SECRET, limit=0)
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


def play(season: int, episode: int, who: str | None, account_id: int) -> dict[str, Any]:
    """A scrobble by ``who`` (None: the owner, as Plex sends the owner's own plays)."""
    data = episode_payload(season, episode)
    if who is not None:
        data.update(user=False, owner=False, Account={"id": account_id, "title": who})
    return data


async def _cli(paths: Paths, capsys: Any, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, ["--data-dir", str(paths.data_dir), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _names(t: FakeTracker) -> list[tuple[str, int]]:
    return [(e["Account"]["title"], e["Metadata"]["index"]) for e in t.accepted]


async def test_two_accounts_routed_to_two_relays_each_get_only_their_persons_plays(
        paths: Paths, settings: Settings, trackers: tuple[FakeTracker, FakeTracker]) -> None:
    a, b = trackers
    settings.accepted_accounts = ["alice", "bob"]
    core = Core(paths, settings, timing=FAST)
    await core.start()
    try:
        await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)  # type: ignore[union-attr]
        assert await core.add_relay(a.url, label="Alice's tracker") == "relay-1"
        assert await core.add_relay(b.url, label="Bob's tracker") == "relay-2"
        await core.route_account("alice", ["relay-1"])
        await core.route_account("BOB", ["relay-2"])  # (names match as accepted accounts do)
        await core.route_account("owner", ["none"])
        url = webhook_url(core)
        for payload in (play(1, 1, "alice", 5001), play(1, 2, "bob", 5002), play(1, 3, None, 1),
                        play(1, 4, "alice", 5001), play(1, 5, "carol", 5003)):
            assert (await post(url, payload))[0] == 200
        await settled(core)
        await wait_for(lambda: len(a.accepted) == 3 and len(b.accepted) == 2, timeout=15)
        await asyncio.sleep(0.3)  # nothing else arrives late
        # carol is not accepted here and has no route: her play goes to every relay, as before
        # (a relay forwards what Plex sends; the web tracker behind it has its own accounts)
        assert _names(a) == [("alice", 1), ("alice", 4), ("carol", 5)]
        assert _names(b) == [("bob", 2), ("carol", 5)]
        rows = {r.episode: r for r in await core.scrobbles()}
        assert {e: (r.account_title, r.action) for e, r in rows.items()} == {
            1: ("alice", "marked"), 2: ("bob", "marked"), 3: ("homeowner", "marked"),
            4: ("alice", "marked"), 5: ("carol", "ignored")}
        assert [(m.destination, m.state) for m in rows[1].deliveries] == [("Alice's tracker", DeliveryState.DELIVERED)]
        assert [m.destination for m in rows[2].deliveries] == ["Bob's tracker"]
        assert rows[3].deliveries == () and "routed nowhere" in (rows[3].reason or "")
        # the built-in tracker keeps every accepted play, with whose it was
        plays = await core.plays(1)
        assert sorted(who for ps in plays.values() for who, _ in ps) == ["alice", "alice", "bob", "homeowner"]
    finally:
        await core.stop()


async def test_route_by_name_and_by_id_and_the_words_for_mistakes(paths: Paths, capsys: Any) -> None:
    save_settings(paths, Settings(accepted_accounts=["alice", "90210"]))
    code, out = await _cli(paths, capsys, "destinations", "add-relay", f"http://127.0.0.1:9/webhook/{SECRET}")
    code, out = await _cli(paths, capsys, "destinations", "add-relay", f"http://127.0.0.1:9/x/webhook/{SECRET}")
    assert code == 0, out
    code, out = await _cli(paths, capsys, "accounts", "route", "Alice", "relay-1")
    assert (code, out.strip()) == (0, "alice: plays go to relay-1."), out
    code, out = await _cli(paths, capsys, "accounts", "route", "90210", "relay-2", "relay-1")
    assert code == 0 and "90210: plays go to relay-2, relay-1." in out, out
    assert load_settings(paths).routes == {"alice": ["relay-1"], "90210": ["relay-2", "relay-1"]}
    code, out = await _cli(paths, capsys, "accounts", "route", "90210", "all")
    assert code == 0 and load_settings(paths).routes == {"alice": ["relay-1"]}
    for args, said in ((("bob", "relay-1"), "'bob' is not an accepted account"),
                       (("alice", "relay-7"), "there is no destination 'relay-7'"),
                       (("alice", "builtin"), "the built-in tracker is not routed"),
                       (("alice", "none", "relay-1"), "'all' and 'none' stand alone")):
        code, out = await _cli(paths, capsys, "accounts", "route", *args)
        assert code == 2 and said in out and "Traceback" not in out, out
    assert load_settings(paths).routes == {"alice": ["relay-1"]}  # nothing half-changed
    code, out = await _cli(paths, capsys, "accounts", "list", "--json")
    rows = {r["account"]: r for r in json.loads(out)}
    assert list(rows) == ["owner", "alice", "90210"]
    assert rows["owner"]["everywhere"] and rows["owner"]["destinations"] == ["relay-1", "relay-2"]
    assert rows["owner"]["ids"] == ["1"]
    assert (rows["alice"]["everywhere"], rows["alice"]["destinations"]) == (False, ["relay-1"])


def test_an_account_matches_by_every_id_plex_knows_it_by() -> None:
    from app.core import routes

    settings = Settings(accepted_accounts=["alice"], routes={"alice": ["relay-2"]})
    knows = PlexKnows(True, {k: frozenset({"alice", "5001", "7"}) for k in ("alice", "5001", "7")},
                      owner=frozenset({"homeowner", "1", "42"}))
    assert routes.route_of("5001", None, settings, knows) == {"relay-2"}
    assert routes.route_of("7", "Alice's profile", settings, knows) == {"relay-2"}
    assert routes.route_of("5001", None, settings, PlexKnows()) is None  # not signed in: the name only
    assert routes.key_of("7", settings, knows) == "alice"
    assert routes.key_of("homeowner", settings, knows) == "owner"
    [owner, alice] = routes.account_routes(settings, knows, ["relay-1", "relay-2"])
    assert owner.ids == ("1", "42", "homeowner") and alice.ids == ("5001", "7")


async def test_a_removed_destination_leaves_no_route_and_an_account_routed_nowhere_is_said(
        paths: Paths, capsys: Any) -> None:
    save_settings(paths, Settings(accepted_accounts=["alice"]))
    await _cli(paths, capsys, "destinations", "add-relay", f"http://127.0.0.1:9/webhook/{SECRET}")
    await _cli(paths, capsys, "destinations", "add-relay", f"http://127.0.0.1:9/y/webhook/{SECRET}")
    await _cli(paths, capsys, "accounts", "route", "alice", "relay-1")
    await _cli(paths, capsys, "accounts", "route", "owner", "relay-1", "relay-2")
    code, out = await _cli(paths, capsys, "destinations", "remove", "relay-1")
    assert code == 0 and "warning: alice is routed nowhere: kept in the built-in tracker only" in out, out
    assert "owner" not in out  # still routed to relay-2
    assert load_settings(paths).routes == {"alice": [], "owner": ["relay-2"]}
    code, out = await _cli(paths, capsys, "accounts", "list")
    assert code == 0 and "none (routed nowhere)" in out and "alice is routed nowhere" in out, out
    # a settings file naming a destination that is gone (edited by hand) loses it on loading
    raw = json.loads(paths.settings_file.read_text())
    raw["routes"]["owner"] = ["relay-2", "relay-9"]
    paths.settings_file.write_text(json.dumps(raw))
    assert load_settings(paths).routes["owner"] == ["relay-2"]
    assert Settings(routes={"x": ["relay-9"]}).validate() == [
        "the route of x names relay-9: there is no such destination"]
    assert Settings.from_dict({"routes": {"x": "relay-1"}}).routes == {}  # a bad value: the default


async def test_a_route_set_on_the_cli_reaches_the_running_app_at_once(
        paths: Paths, capsys: Any, trackers: tuple[FakeTracker, FakeTracker]) -> None:
    a, b = trackers
    core = Core(paths, Settings(port=0, rate_limit_per_minute=0, accepted_accounts=["alice"]), timing=FAST)
    await core.start()
    try:
        await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)  # type: ignore[union-attr]
        await core.add_relay(a.url)
        await core.add_relay(b.url)
        code, out = await _cli(paths, capsys, "accounts", "route", "alice", "relay-2")
        assert code == 0, out
        assert core.settings.routes == {"alice": ["relay-2"]}  # the running app's, not only the file's
        assert (await post(webhook_url(core), play(2, 1, "alice", 5001)))[0] == 200
        await wait_for(lambda: b.accepted, timeout=10)
        await asyncio.sleep(0.3)
        assert a.accepted == [] and _names(b) == [("alice", 1)]
        code, out = await _cli(paths, capsys, "accounts", "list", "--json")
        assert {r["account"]: r["destinations"] for r in json.loads(out)}["alice"] == ["relay-2"]
        async def recorded() -> bool:
            return [m.state for m in (await core.scrobbles())[0].deliveries] == [DeliveryState.DELIVERED]
        await wait_for(recorded, timeout=10)
        code, out = await _cli(paths, capsys, "scrobbles")  # whose play it was, and where it went
        [line] = [x for x in out.splitlines() if "Breaking Bad" in x]
        assert "alice" in line and f"Built-in ✓ · Web tracker at 127.0.0.1:{b.port} ✓" in line, out
        assert str(a.port) not in line
    finally:
        await core.stop()


async def test_signed_in_an_account_is_routed_by_any_of_its_ids_and_listed_with_them(
        paths: Paths, settings: Settings, capsys: Any, trackers: tuple[FakeTracker, FakeTracker]) -> None:
    """Against the Plex stand-ins: Bob is 5001 on the server and plays as "Plex User"; routed
    by that id from the CLI (through the running app, which knows the servers' accounts),
    his plays reach his tracker only, and the owner's (account 1) the other."""
    from tests.fake_plex import FakePlexTv, FakePms

    a, b = trackers
    async with FakePlexTv() as tv, FakePms(name="NAS") as pms:
        tv.servers.append(pms)
        settings.plex_tv_url = tv.url
        settings.accepted_accounts = ["Bob"]
        core = Core(paths, settings, timing=FAST)
        await core.start()
        try:
            await core.runtime.run(core.runtime.store.add_show, **BREAKING_BAD)  # type: ignore[union-attr]
            token, owner = tv.add_user("alice")
            pms.accounts = {1: "alice", 5001: "Bob"}
            await core.plex_signed_in(token)
            await core.add_relay(a.url)
            await core.add_relay(b.url)
            code, out = await _cli(paths, capsys, "accounts", "route", "5001", "relay-2")
            assert (code, out.strip()) == (0, "Bob: plays go to relay-2."), out
            code, out = await _cli(paths, capsys, "accounts", "route", str(owner.id), "relay-1")
            assert (code, out.strip()) == (0, "owner: plays go to relay-1."), out
            code, out = await _cli(paths, capsys, "accounts", "list", "--json")
            rows = {r["account"]: r for r in json.loads(out)}
            assert rows["Bob"]["ids"] == ["5001"] and set(rows["owner"]["ids"]) == {"1", "alice", str(owner.id)}
            url = webhook_url(core)
            assert (await post(url, play(3, 1, "Plex User", 5001)))[0] == 200
            owners = play(3, 2, "Plex User", 1)
            owners.update(user=True, owner=True)
            assert (await post(url, owners))[0] == 200
            await wait_for(lambda: a.accepted and b.accepted, timeout=10)
            await asyncio.sleep(0.3)
            assert [e["Metadata"]["index"] for e in a.accepted] == [2]
            assert [e["Metadata"]["index"] for e in b.accepted] == [1]
        finally:
            await core.stop()
