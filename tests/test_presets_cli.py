"""The relay presets on the command line: ``destinations presets [--json]``,
``destinations add-relay URL --preset NAME`` and a preset's Test, over real HTTP to the
trackers' stand-ins (tests/fake_selfhosted*.py)."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.core.destinations.presets import PRESETS
from tests.fake_selfhosted import Movary, Yamtrack
from tests.fake_selfhosted_raw import Ryot

NAMES = ["yamtrack", "mediatracker", "ryot", "movary", "crosswatch", "goplaxt", "reference", "other"]


def test_presets_lists_each_with_its_url_shape_and_the_events_it_takes(run) -> None:
    code, out, _ = run("destinations", "presets")
    assert code == 0 and out.split()[:4] == ["name", "url", "takes", "cannot"]
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert list(lines) == NAMES
    assert "http://HOST:8000/webhook/plex/TOKEN" in lines["yamtrack"] and "media.play" in lines["yamtrack"]
    assert "http://HOST:7481/api/plex?token=APPLICATION_TOKEN" in lines["mediatracker"]
    assert "movies only" in lines["movary"] and "any http:// or https:// URL" in lines["other"]
    code, out, _ = run("destinations", "presets", "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows] == NAMES
    assert rows[2] | {"cannot": ""} == {
        "name": "ryot", "tracker": "Ryot", "url": "http://HOST:8000/_i/SLUG", "token": "slug",
        "takes": "play, pause, resume, stop and scrobble (as progress); movies and episodes with a TMDB id",
        "cannot": ""}
    assert rows[2]["cannot"].startswith("answers 202 even for a wrong slug")


def test_add_relay_with_a_preset_masks_its_token_and_keeps_the_preset(run) -> None:
    token = "5c1e0f3a-9b7d-4e2c-8a6f-1d0b3c5e7a92"
    code, out, err = run("destinations", "add-relay", f"http://nas.lan:8080/api/webhook/plex/{token}",
                         "--preset", "movary")
    assert code == 0, err
    assert out.splitlines()[0] == ("Added relay-1: http://nas.lan:8080/api/webhook/plex/••• (Movary: media.scrobble "
                                   "and media.rate of movies only (episodes are not sent)).")
    saved = json.loads((run.data / "settings.json").read_text())["relays"]
    assert saved[0]["preset"] == "movary" and token not in out
    code, out, _ = run("destinations", "list", "--json")
    [relay] = [d for d in json.loads(out) if d["id"] == "relay-1"]
    assert relay["label"] == "Movary at nas.lan:8080" and token not in out
    assert relay["note"] == "Movary movies only; answers 200 for events it ignores; reads no event id, " \
                            "so a repeat is a second play"


def test_add_relay_without_a_preset_is_as_before(run) -> None:
    code, out, _ = run("destinations", "add-relay", "http://localhost:3000/api/plex/webhook?secret=abc")
    assert code == 0 and out.splitlines()[0] == (
        "Added relay-1: http://localhost:3000/api/plex/webhook?secret=••• (every Plex event).")
    assert "preset" not in json.loads((run.data / "settings.json").read_text())["relays"][0]


def test_a_url_not_of_the_presets_shape_or_an_unknown_preset_is_refused_clearly(run, capsys) -> None:
    code, _, err = run("destinations", "add-relay", "http://nas.lan:8000/api/plex/webhook?secret=x",
                       "--preset", "yamtrack")
    assert code == 2 and "Yamtrack's webhook URL looks like http://HOST:8000/webhook/plex/TOKEN" in err
    code, _, err = run("destinations", "add-relay", "http://nas.lan:7481/api/plex?token=a&token=b",
                       "--preset", "mediatracker")
    assert code == 2 and "the URL has 2 'token=': MediaTracker reads two as a list and refuses it" in err
    with pytest.raises(SystemExit) as e:  # (argparse's own exit: 2, its words on stderr)
        run("destinations", "add-relay", "http://nas.lan:8000/", "--preset", "trakt")
    assert e.value.code == 2 and "invalid choice: 'trakt'" in capsys.readouterr().err
    assert not (run.data / "settings.json").exists() or json.loads(
        (run.data / "settings.json").read_text())["relays"] == []


async def test_a_presets_test_says_what_the_answer_means_for_that_tracker(run) -> None:
    async with Yamtrack() as yt, Ryot() as ry, Movary() as mv:
        def cli(*args: str) -> tuple[int, str, str]:
            return run(*args)
        for url, preset in ((yt.url(), "yamtrack"), (ry.url("wrong-slug"), "ryot"), (mv.url("unknown"), "movary")):
            assert (await asyncio.to_thread(cli, "destinations", "add-relay", url, "--preset", preset))[0] == 0
        code, out, _ = await asyncio.to_thread(cli, "destinations", "test", "relay-1")
        assert code == 0 and PRESETS["yamtrack"].tested in out and yt.token not in out
        assert yt.events == ["media.pause"] and yt.episodes == []  # accepted, ignored: no one's history changed
        code, out, _ = await asyncio.to_thread(cli, "destinations", "test", "relay-2")
        assert code == 0 and "even for a wrong slug" in out and "if it shows nothing new, the slug is wrong" in out
        code, out, _ = await asyncio.to_thread(cli, "destinations", "test", "relay-3")
        assert code == 1 and "Movary does not know this webhook id" in out
        assert "Copy the Plex webhook URL, id and all, from Movary" in out


async def test_add_relay_builds_a_trackers_url_from_host_port_and_token(run) -> None:
    def cli(*args: str) -> tuple[int, str, str]:
        return run(*args)  # (in a thread: the command runs a loop of its own)
    async with Yamtrack() as yt:
        code, out, err = await asyncio.to_thread(cli, "destinations", "add-relay", "--preset", "yamtrack",
                                                 "--host", "127.0.0.1", "--port", str(yt.port), "--token", yt.token)
        assert code == 0, err
        assert out.splitlines()[0].startswith(f"Added relay-1: http://127.0.0.1:{yt.port}/webhook/plex/••• (Yamtrack:")
        assert json.loads((run.data / "settings.json").read_text())["relays"][0]["url"] == yt.url()
        code, out, _ = await asyncio.to_thread(cli, "destinations", "test", "relay-1")
        assert code == 0 and "Yamtrack took the token" in out
    code, out, _ = await asyncio.to_thread(cli, "destinations", "add-relay", "--preset", "goplaxt", "--host",
                                           "nas.lan", "--token", "abc")
    assert code == 0 and "http://nas.lan:8000/api?id=•••" in out  # its own port by default
    for args, said in ((("--host", "nas.lan", "--token", "abc"), "give --preset NAME"),
                       (("--preset", "ryot", "--host", "nas.lan"), "and --token"),
                       (("http://nas.lan/_i/x", "--preset", "ryot", "--host", "nas.lan", "--token", "x"), "and no URL"),
                       ((), "give the URL, or --preset NAME with --host and --token")):
        code, _, err = await asyncio.to_thread(cli, "destinations", "add-relay", *args)
        assert code == 2 and said in err, (args, err)
