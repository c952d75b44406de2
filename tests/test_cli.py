"""The CLI: every subcommand, JSON listings, clear errors and exit codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from app.cli import main
from app.core.config import Paths, Settings
from app.core.runtime import open_store
from tests.helpers import SAMPLES


def test_shows_add_import_list_json(run, tmp_path: Path) -> None:
    assert run("shows", "add", "Breaking Bad", "--year", "2008", "--tmdb", "1396")[0] == 0
    f = tmp_path / "shows.json"
    f.write_text(json.dumps([
        {"title": "The Wire", "year": 2002, "tvdb_id": 79126, "imdb_id": "tt0306414"},
        {"title": "Breaking Bad", "year": 2008, "tmdb_id": 1396},  # already there
        {"title": "Severance", "year": 2022, "tmdb_id": None, "tvdb_id": "371980"},
    ]))
    code, out, _ = run("shows", "import", str(f))
    assert code == 0 and "Imported 2 shows (1 already in the tracker)" in out
    code, out, _ = run("shows", "list", "--json")
    rows = json.loads(out)
    assert [r["title"] for r in rows] == ["Breaking Bad", "Severance", "The Wire"]
    assert {"id", "title", "year", "tmdb_id", "tvdb_id", "imdb_id", "watched_episodes"} <= set(rows[0])
    code, out, _ = run("shows", "list")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["id", "title", "year"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('{"title": "x"}', "JSON list"),
    ('[{"year": 2001}]', "show #1: a show needs a non-empty title"),
    ('[{"title": "A"}, {"title": "B", "year": "soon"}]', "show #2: year must be"),
    ('[{"title": "A", "imdb_id": "0903747"}]', "imdb_id must look like"),
])
def test_import_errors_are_clear_and_write_nothing(run, tmp_path: Path, content, message) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    code, _, err = run("shows", "import", str(f))
    assert code == 2 and message in err and "Traceback" not in err
    assert json.loads(run("shows", "list", "--json")[1]) == []


def test_missing_import_file(run, tmp_path: Path) -> None:
    code, _, err = run("shows", "import", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read" in err


def test_episodes_scrobbles_conflicts_resolve(run) -> None:
    data = run.data
    tracker = open_store(Paths(data), Settings())
    show = tracker.add_show(title="Breaking Bad", year=2008, tmdb_id=1396)
    for name in ("scrobble-legacy-themoviedb", "scrobble-unknown-show", "play-new-agent-episode"):
        tracker.ingest([((SAMPLES / f"{name}.json").read_text(), "127.0.0.1")])
    tracker.process_pending()

    code, out, _ = run("episodes", "--show", str(show.id), "--json")
    [ep] = json.loads(out)
    assert code == 0 and (ep["season"], ep["number"], ep["watched"], ep["watch_count"]) == (1, 1, True, 1)

    code, out, _ = run("scrobbles", "--limit", "2", "--json")
    rows = json.loads(out)
    assert [r["action"] for r in rows] == ["ignored", "conflict"] and "payload" not in rows[0]
    assert json.loads(run("scrobbles", "--action", "marked", "--json")[1])[0]["show_title"] == "Breaking Bad"

    code, out, _ = run("conflicts", "list", "--json")
    [conflict] = json.loads(out)
    assert conflict["plex_title"] == "NonExistent Show XYZ" and conflict["waiting"] == 1
    code, out, _ = run("conflicts", "resolve", str(conflict["id"]), "--create")
    assert code == 0 and "marked" in out
    assert json.loads(run("conflicts", "list", "--json")[1]) == []
    assert json.loads(run("conflicts", "list", "--all", "--json")[1])[0]["resolution"] == "created"

    code, _, err = run("conflicts", "resolve", str(conflict["id"]), "--ignore")
    assert code == 2 and "already resolved" in err
    code, _, err = run("conflicts", "resolve", "999", "--show", "1")
    assert code == 2 and "no conflict #999" in err
    code, _, err = run("episodes", "--show", "999")
    assert code == 2 and "no show #999" in err


def test_webhook_url_and_secret_rotate(run) -> None:
    code, out, err = run("webhook-url")
    url = out.strip()
    assert "works only for a Plex server on this computer" in err and "tunnel" in err  # and not in stdout
    assert code == 0 and url.startswith("http://127.0.0.1:47810/webhook/") and len(url.rsplit("/", 1)[1]) >= 40
    assert run("webhook-url")[1].strip() == url  # stable
    code, out, _ = run("secret", "rotate")
    assert code == 0 and url not in out and out.strip().splitlines()[-1].startswith("http://")
    assert oct((run.data / "webhook-secret").stat().st_mode & 0o777) == "0o600"


def test_global_options_may_come_after_the_command(tmp_path: Path, capsys) -> None:
    data = tmp_path / "elsewhere"
    assert main(["shows", "add", "Severance", "--year", "2022", "--data-dir", str(data)]) == 0
    assert main(["shows", "list", "--json", f"--data-dir={data}", "-v"]) == 0
    assert '"title": "Severance"' in capsys.readouterr().out
    assert (data / "scrobbletray.sqlite3").is_file()


def test_an_empty_data_dir_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--data-dir", "", "shows", "list"])
    assert e.value.code == 2 and "--data-dir: is empty" in capsys.readouterr().err


def test_bad_arguments_exit_non_zero(run) -> None:
    with pytest.raises(SystemExit) as e:
        run("episodes")  # --show is required
    assert e.value.code == 2
    for args in (("scrobbles", "--limit", "0"), ("serve", "--port", "70000")):  # (argparse's exit: 2)
        with pytest.raises(SystemExit) as e:
            run(*args)
        assert e.value.code == 2


def test_module_and_command_are_the_same_entry_point(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1])
    assert out.returncode == 0 and out.stdout.startswith("scrobbletray ")
    out = subprocess.run([sys.executable, "-m", "app", "--data-dir", str(tmp_path), "shows", "list"],
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0 and out.stdout.strip() == "(none)"


def test_scrobbletray_home_moves_the_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SCROBBLETRAY_HOME", str(tmp_path / "home"))
    assert main(["shows", "add", "Severance"]) == 0
    assert (tmp_path / "home" / "scrobbletray.sqlite3").exists()


def test_headless_code_never_imports_qt() -> None:
    code = ("import sys, app.main, app.cli, app.core.headless, app.core.facade, app.core.tunnel\n"
            "import app.core.diagnostics\n"
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'qasync', 'app.ui'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_command_line_alone_never_starts_the_windows(tmp_path: Path, capsys) -> None:
    """Without a command the entry point (app.main) starts the tray app; app.cli asks for one."""
    with pytest.raises(SystemExit) as e:
        main(["--data-dir", str(tmp_path)])
    assert e.value.code == 2 and "a command is needed here" in capsys.readouterr().err


def test_every_command_is_run_by_its_module() -> None:
    from app import cli

    sub = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(cli.COMMANDS)
    assert all(callable(m.add_parser) and callable(m.run) for m in cli.COMMANDS.values())


def test_destinations_add_list_retry_remove_without_showing_the_secret(run) -> None:
    secret = "ab" * 32
    code, out, _ = run("destinations", "add-relay", f"http://localhost:3000/api/plex/webhook?secret={secret}",
                       "--only-watched")
    assert code == 0 and "Added relay-1: http://localhost:3000/api/plex/webhook?secret=•••" in out
    assert "only watched episodes" in out
    code, out, _ = run("destinations", "list", "--json")
    builtin, relay = json.loads(out)
    assert (builtin["id"], builtin["exactly_once"]) == ("builtin", True)
    assert (relay["id"], relay["kind"], relay["only_watched"], relay["pending"]) == ("relay-1", "relay", True, 0)
    code, table, _ = run("destinations", "list")
    assert code == 0 and "relay-1" in table
    assert secret not in out + table
    assert secret in (run.data / "settings.json").read_text()  # kept, for the user only:
    assert (run.data / "settings.json").stat().st_mode & 0o077 == 0
    assert run("destinations", "retry", "relay-1")[1].startswith("0 failed event(s) of relay-1 queued again")
    assert run("destinations", "remove", "relay-1")[0] == 0
    code, _, err = run("destinations", "remove", "relay-1")
    assert code == 2 and "there is no destination 'relay-1'" in err
    code, _, err = run("destinations", "add-relay", "localhost:3000/api/plex/webhook")
    assert code == 2 and "must be an http:// or https:// URL" in err


async def test_destinations_test_sends_a_harmless_event_and_says_what_came_back(tmp_path: Path) -> None:
    import asyncio

    from tests.fake_tracker import FakeTracker

    data = tmp_path / "data"
    async with FakeTracker(secret="s3cret-value") as tracker:
        async def cli(*args: str) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app", "--data-dir", str(data), *args,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1])
            out, _ = await proc.communicate()
            return proc.returncode or 0, out.decode()

        assert (await cli("destinations", "add-relay", tracker.url))[0] == 0
        code, out = await cli("destinations", "test", "relay-1")
        assert code == 0 and "accepted (HTTP 200" in out and "s3cret-value" not in out
        assert [r.payload_event for r in tracker.requests] == ["scrobbletray.selftest"]
        assert tracker.accepted == []  # the tracker ignored it: nothing was marked
        tracker.mode = "refuse"
        await asyncio.sleep(0.1)
        code, out = await cli("destinations", "test", "relay-1")
        assert code == 1 and "cannot connect" in out and "npm run dev" in out


def test_serve_on_a_port_in_use_or_a_bad_host_says_so_and_exits_2(run) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run("serve", "--port", str(port), "--no-tunnel")
    assert code == 2
    assert f"Port {port} is in use by another program" in err and "serve --port N" in err
    assert "Errno" not in err
    code, _, err = run("serve", "--host", "192.0.2.1", "--no-tunnel")  # (TEST-NET-1: nobody's)
    assert code == 2 and "Cannot listen on 192.0.2.1: it is not an address of this computer" in err
    code, _, err = run("serve", "--host", "999.1.1.1", "--no-tunnel")  # refused before listening
    assert code == 2 and "must be an IP address or a host name" in err and "'999.1.1.1'" in err


async def test_the_core_says_a_port_in_use_in_words(paths, settings) -> None:
    import socket

    from app.core.facade import Core

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.port = taken.getsockname()[1]
        core = Core(paths, settings)
        with pytest.raises(OSError):
            await core.start()
        assert core.status.server == "error"
        assert core.status.server_error.startswith(f"Port {settings.port} is in use by another program")
        await core.stop()


def test_times_are_local_and_say_their_offset(run, monkeypatch) -> None:
    import time as time_module

    from app.core.plain import plain as _plain

    monkeypatch.setenv("TZ", "IST-5:30")  # a POSIX rule: no tz database needed
    time_module.tzset()
    try:
        assert _plain(datetime(2026, 12, 2, 12, 0, 0)) == "2026-12-02 17:30:00+05:30"
    finally:
        monkeypatch.delenv("TZ")
        time_module.tzset()


def test_shows_add_refuses_an_exact_duplicate(run) -> None:
    assert run("shows", "add", "The Office", "--year", "2005", "--tvdb", "73244")[0] == 0
    code, _, err = run("shows", "add", "the office", "--year", "2005")  # same title and year
    assert code == 2 and "The Office (2005) is already in the tracker as show #1" in err
    code, _, err = run("shows", "add", "Office (US)", "--tvdb", "73244")  # same id
    assert code == 2 and "as show #1" in err
    assert run("shows", "add", "The Office", "--year", "2001")[0] == 0  # the UK one: another show


async def test_webhook_url_gives_the_running_instances_real_port(core, paths, capsys) -> None:
    import asyncio

    code = await asyncio.to_thread(main, ["--data-dir", str(paths.data_dir), "webhook-url", "--all"])
    out, err = capsys.readouterr()
    assert code == 0 and f"This computer only: http://127.0.0.1:{core.status.port}/webhook/" in out
    assert "not running" not in err
    await core.stop()  # stopped: the configured port, and it says so
    code = await asyncio.to_thread(main, ["--data-dir", str(paths.data_dir), "webhook-url"])
    out, err = capsys.readouterr()
    assert out.startswith("http://127.0.0.1:47810/webhook/") and "Scrobble Tray is not running" in err


def test_a_data_folder_that_cannot_be_written_is_named_with_the_fix(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # (root may write anywhere: a file in the way fails for anyone)
    assert main(["--data-dir", str(blocker / "data"), "shows", "list"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to the data folder {blocker / 'data'}" in err and "--data-dir DIR" in err


def test_config_get_set_and_reset_every_window_setting(run) -> None:
    code, out, _ = run("config", "get")
    assert code == 0 and "port                    47810" in out and "relays" not in out
    assert run("config", "set", "port", "48123")[0] == 0
    assert run("config", "set", "ngrok_domain", "https://My-Name.ngrok-free.dev/")[0] == 0
    assert run("config", "set", "accepted_accounts", "homeowner, Kid")[0] == 0
    assert run("config", "set", "tunnel_enabled", "off")[0] == 0
    assert run("config", "set", "host", "0.0.0.0")[0] == 0
    saved = json.loads(Paths(run.data).settings_file.read_text())
    assert (saved["port"], saved["ngrok_domain"], saved["accepted_accounts"], saved["tunnel_enabled"],
            saved["host"]) == (48123, "my-name.ngrok-free.dev", ["homeowner", "Kid"], False, "0.0.0.0")
    assert run("config", "get", "port")[1] == "48123\n"
    assert run("config", "get", "--json", "accepted_accounts")[1] == '["homeowner", "Kid"]\n'
    assert run("config", "set", "port", "default")[0] == 0
    assert run("config", "get", "port")[1] == "47810\n"


@pytest.mark.parametrize("key, value, words", [
    ("port", "80000", "between 0 and 65535"),
    ("port", "eighty", "takes a whole number"),
    ("ngrok_domain", "nope", "a domain name like"),
    ("plex_location", "mars", "one of this, network, elsewhere"),
    ("tunnel_enabled", "maybe", "true or false (or auto)"),
    ("stop_threshold", "2", "between 0.5 and 1.0"),
    ("database_url", "notaurl", "Not a database URL"),
])
def test_config_set_refuses_a_bad_value_with_the_windows_words(run, key: str, value: str, words: str) -> None:
    code, _, err = run("config", "set", key, value)
    assert code == 2 and words in err
    assert not Paths(run.data).settings_file.exists()  # nothing written


def test_config_set_authtoken_reads_stdin_and_never_prints_it(tmp_path: Path) -> None:
    token = "2abcDEF_0123456789ghijklmnop"
    cmd = [sys.executable, "-m", "app", "--data-dir", str(tmp_path / "d"), "config", "set-authtoken"]
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, input=token + "\n", capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0 and "Authtoken saved in a private file" in done.stdout
    assert token not in done.stdout + done.stderr
    assert (tmp_path / "d" / "ngrok-authtoken").read_text().strip() == token
    bad = subprocess.run(cmd, input="not a token\n", capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1])
    assert bad.returncode == 2 and "does not look like an ngrok authtoken" in bad.stderr
