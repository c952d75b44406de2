"""What the command line is handed: every argument of every command, the files it imports
and the settings it is told. Whatever comes in, the answer is a sentence on stderr and exit
code 2, never a traceback, and nothing already kept is lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Paths, load_settings
from app.main import main
from tests.helpers import SAMPLES

ROOT = Path(__file__).resolve().parents[1]
BAD = "\udcff\udcfe"  # what Python makes of the bytes ff fe in argv (not UTF-8: surrogateescape)
BIG = "9" * 31  # an OverflowError for SQLite, had it got there

#: name -> (arguments, words the error says). Every command of app.cli.COMMANDS that takes
#: an argument, with the input that ended in a traceback, or was taken and broke later.
ARGUMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "shows add title not UTF-8": (("shows", "add", f"Breaking{BAD}"), "is not UTF-8 text"),
    "shows add --imdb not UTF-8": (("shows", "add", "X", "--imdb", BAD), "is not UTF-8 text"),
    "shows add --tmdb 31 digits": (("shows", "add", "X", "--tmdb", BIG), "takes a whole number"),
    "shows add --year 31 digits": (("shows", "add", "X", "--year", BIG), "takes a whole number from 1900 to 2100"),
    "shows list --search not UTF-8": (("shows", "list", "--search", BAD), "is not UTF-8 text"),
    "shows list --search 100,000 characters": (("shows", "list", "--search", "a" * 100_000),
                                               "is 100,000 characters long; at most 500"),
    "episodes --show 31 digits": (("episodes", "--show", BIG), "takes a whole number from 1 up"),
    "episodes --show 0": (("episodes", "--show", "0"), "takes a whole number from 1 up"),
    "scrobbles --limit 31 digits": (("scrobbles", "--limit", BIG), "takes a whole number from 1 to 10000"),
    "conflicts resolve 31 digits": (("conflicts", "resolve", BIG, "--ignore"), "takes a whole number from 1 up"),
    "conflicts resolve --show 31 digits": (("conflicts", "resolve", "1", "--show", BIG), "takes a whole number"),
    "destinations add-postgres not UTF-8": (("destinations", "add-postgres", f"postgresql://u@h/d{BAD}"),
                                            "is not UTF-8 text"),
    "destinations add-relay not UTF-8": (("destinations", "add-relay", f"https://example.com/{BAD}"),
                                         "is not UTF-8 text"),
    "destinations add-relay --label not UTF-8": (("destinations", "add-relay", "https://example.com/w",
                                                  "--label", BAD), "is not UTF-8 text"),
    "destinations tmdb-key not UTF-8": (("destinations", "tmdb-key", BAD), "is not UTF-8 text"),
    "destinations remove not UTF-8": (("destinations", "remove", BAD), "is not UTF-8 text"),
    "destinations test not UTF-8": (("destinations", "test", BAD), "is not UTF-8 text"),
    "destinations retry not UTF-8": (("destinations", "retry", BAD), "is not UTF-8 text"),
    "config set host not UTF-8": (("config", "set", "host", BAD), "is not UTF-8 text"),
    "config set host 10,000 characters": (("config", "set", "host", "a" * 10_000), "at most 2,000"),
    "config set host 1,000 characters": (("config", "set", "host", "a" * 1_000), "an IP address or a host name"),
    "config set host with a space": (("config", "set", "host", "my nas"), "an IP address or a host name"),
    "config set accepted_accounts not UTF-8": (("config", "set", "accepted_accounts", BAD), "is not UTF-8 text"),
    "config set dedup_window_hours inf": (("config", "set", "dedup_window_hours", "inf"), "at most 8784 hours"),
    "config set dedup_window_hours nan": (("config", "set", "dedup_window_hours", "nan"), "must be positive"),
    "config set dedup_window_hours 1e23": (("config", "set", "dedup_window_hours", "1e23"), "at most 8784 hours"),
    "config set stop_threshold nan": (("config", "set", "stop_threshold", "nan"), "between 0.5 and 1.0"),
    "config set rate_limit_per_minute 31 digits": (("config", "set", "rate_limit_per_minute", BIG), "to 10000"),
    "config set ngrok_region moon": (("config", "set", "ngrok_region", "moon"), "us, us-cal-1, eu, ap"),
    "serve --host not UTF-8": (("serve", "--no-tunnel", "--host", BAD), "is not UTF-8 text"),
    "serve --host 10,000 characters": (("serve", "--no-tunnel", "--host", "h" * 10_000), "at most 300"),
    "serve --port 31 digits": (("serve", "--no-tunnel", "--port", BIG), "takes a whole number from 0 to 65535"),
    "--data-dir not UTF-8": (("--data-dir", f"/tmp/{BAD}", "status"), "is not UTF-8 text"),
    "--database-url not UTF-8": (("--database-url", BAD, "shows", "list"), "is not UTF-8 text"),
    "--ngrok-path not UTF-8": (("--ngrok-path", BAD, "webhook-url"), "is not UTF-8 text"),
}


def _run(capsys: Any, data: Path, *args: str) -> tuple[int, str, str]:
    """``scrobbletray --data-dir DATA ARGS``, in this process: an exception is the test's failure."""
    try:
        code = main(["--data-dir", str(data), *args]) if args[0] != "--data-dir" else main(list(args))
    except SystemExit as exit_:  # (argparse's refusal)
        code = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(ARGUMENTS))
def test_every_argument_gets_a_sentence_and_exit_2(tmp_path: Path, capsys: Any, case: str) -> None:
    data = tmp_path / "data"
    assert _run(capsys, data, "shows", "add", "Severance", "--year", "2022")[0] == 0
    before = data.joinpath("settings.json").read_bytes() if data.joinpath("settings.json").exists() else None
    args, words = ARGUMENTS[case]
    code, out, err = _run(capsys, data, *args)
    assert code == 2, (code, out, err)
    assert "error: " in err and words in err and "Traceback" not in err, err
    assert len(err) < 1_000  # (the 100,000 characters are not said back)
    after = data.joinpath("settings.json").read_bytes() if data.joinpath("settings.json").exists() else None
    assert after == before  # nothing was saved
    assert [s["title"] for s in json.loads(_run(capsys, data, "shows", "list", "--json")[1])] == ["Severance"]


@pytest.mark.parametrize("utf8_mode", ["0", "1"])  # stdin strict, or with surrogateescape (UTF-8 mode, the C locale)
def test_real_argv_bytes_and_stdin_that_are_not_utf8(tmp_path: Path, utf8_mode: str) -> None:
    """The same through a real process: argv and stdin as bytes, as a shell passes them."""
    env = {**os.environ, "SCROBBLETRAY_HOME": str(tmp_path / "data"), "PYTHONPATH": str(ROOT),
           "LC_ALL": "C.UTF-8", "PYTHONUTF8": utf8_mode}
    for args, stdin, words in (([b"shows", b"add", b"Breaking \xff\xfe"], b"", "not UTF-8 text"),
                               ([b"shows", b"list", b"--search", b"\xff"], b"", "not UTF-8 text"),
                               ([b"config", b"set", b"host", b"\xff"], b"", "not UTF-8 text"),
                               ([b"config", b"set-authtoken"], b"\xff\xfe2abcdefghijklmnopqrstuvwxyz\n",
                                "does not look like an ngrok authtoken")):
        done = subprocess.run([sys.executable.encode(), b"-m", b"app", *args], input=stdin, env=env,
                              capture_output=True, timeout=60)
        err = done.stderr.decode("utf-8", "backslashreplace")
        assert done.returncode == 2 and "error: " in err and words in err and "Traceback" not in err, (args, err)


def test_an_ipv6_host_is_bracketed_in_the_webhook_url(tmp_path: Path, capsys: Any) -> None:
    data = tmp_path / "data"
    assert _run(capsys, data, "config", "set", "host", "::1")[0] == 0
    code, out, _ = _run(capsys, data, "webhook-url")
    assert code == 0 and out.startswith("http://[::1]:47810/webhook/")


def test_bad_numbers_in_settings_json_fall_back_to_the_default(tmp_path: Path, capsys: Any) -> None:
    paths = Paths(tmp_path / "data")
    paths.ensure()
    paths.settings_file.write_text(json.dumps({"dedup_window_hours": 1e300 * 10, "ngrok_region": "moon",
                                               "host": "a" * 10_000, "rate_limit_per_minute": 10**30}),
                                   encoding="utf-8")
    settings = load_settings(paths)
    assert (settings.dedup_window_hours, settings.ngrok_region, settings.host,
            settings.rate_limit_per_minute) == (6.0, None, "127.0.0.1", 10)
    code, out, _ = _run(capsys, paths.data_dir, "config", "get", "dedup_window_hours")
    assert (code, out.strip()) == (0, "6.0")


# -- shows import ------------------------------------------------------------------------

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


IMPORTS: dict[str, tuple[str, bytes, str]] = {
    "a lone surrogate in a title": ("shows.json", b'[{"title": "Sever\\ud800ance"}]', "not text (U+D800)"),
    "a NUL in a CSV title": ("shows.csv", b"title\nSever\0ance\n", "not text (U+0000)"),
    "a list nested 2,000 deep": ("shows.json", _nested(2_000).encode(), "nested too deeply"),
    "shows nested 100,000 deep": ("shows.json", b'{"shows": ' + _nested(100_000).encode() + b"}",
                                  "nested too deeply"),
    "a CSV field over 128 KB": ("shows.csv", b"title\n" + b"a" * 140_000 + b"\n", "line 2: not a CSV row"),
    "a quoted CSV field over 128 KB": ("shows.csv", b'title,year\n"' + b"a" * 140_000 + b'",2001\n',
                                       "not a CSV row"),
    "a number of 5,000 digits": ("shows.json", b'[{"title": "x", "year": 1' + b"0" * 5_000 + b"}]",
                                 "number far too long"),
    "100,001 shows": ("shows.json", json.dumps([{"title": f"Show {i}"} for i in range(100_001)]).encode(),
                      "one import takes at most 100,000"),
}


@pytest.mark.parametrize("case", sorted(IMPORTS))
def test_an_import_of_bad_content_is_refused_with_a_sentence(tmp_path: Path, capsys: Any, case: str) -> None:
    name, content, words = IMPORTS[case]
    f = tmp_path / name
    f.write_bytes(content)
    code, _, err = _run(capsys, tmp_path / "data", "shows", "import", str(f))
    assert code == 2 and "error: " in err and words in err and "Traceback" not in err, err
    assert len(err) < 1_000
    assert json.loads(_run(capsys, tmp_path / "data", "shows", "list", "--json")[1]) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_an_import_of_a_pipe_or_a_device_is_refused_before_reading(tmp_path: Path, capsys: Any) -> None:
    fifo = tmp_path / "shows.json"
    os.mkfifo(fifo)  # (no writer: reading it would wait for ever)
    for path in (fifo, Path("/dev/zero"), tmp_path):
        code, _, err = _run(capsys, tmp_path / "data", "shows", "import", str(path))
        assert code == 2 and "Traceback" not in err, err
    assert "is not a file that can be imported (a folder, a device or a pipe)" in _run(
        capsys, tmp_path / "data", "shows", "import", "/dev/zero")[2]


def test_an_import_file_over_the_cap_is_refused_before_reading(tmp_path: Path, capsys: Any) -> None:
    big = tmp_path / "shows.json"
    with big.open("wb") as f:  # 60 MB, sparse: nothing is written, and nothing should be read
        f.truncate(60 * 2**20)
    code, _, err = _run(capsys, tmp_path / "data", "shows", "import", str(big))
    assert code == 2 and "is 60 MB; an import takes at most 50 MB" in err and "Split it" in err


def test_a_long_title_is_kept_to_200_characters_and_still_matched(tmp_path: Path, capsys: Any) -> None:
    from app.core.matching import ShowIndex, ShowRef
    from app.core.ngram_index import INDEXED_CHARS

    words = [f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(80)]  # 80 distinct words
    title = " ".join(words)  # 559 characters
    f = tmp_path / "shows.json"
    f.write_text(json.dumps([{"title": title, "year": 2001}, {"title": "Severance"}]), encoding="utf-8")
    assert _run(capsys, tmp_path / "data", "shows", "import", str(f))[0] == 0
    kept = {s["title"] for s in json.loads(_run(capsys, tmp_path / "data", "shows", "list", "--json")[1])}
    assert kept == {title[:200].strip(), "Severance"}

    index = ShowIndex([ShowRef(1, title, 2001), ShowRef(2, "Severance", 2022)])
    entries = sum(len(posting) for posting in index._grams._postings.values())
    assert entries <= 2 * INDEXED_CHARS + 20  # the grams of its first characters, not of all 559
    typo = title.replace("wordaa", "wordqq", 1)  # one typo in the first word: found by the rest
    assert index.resolve(typo, 2001, {}).show_id == 1
    assert index.resolve(title[:300], 2001, {}).candidates[0].show_id == 1  # a cut title finds it first


def test_samples_still_import(tmp_path: Path, capsys: Any) -> None:
    shows = [p for p in SAMPLES.iterdir() if p.name.startswith("shows")] if SAMPLES.is_dir() else []
    for path in shows:
        code, _, err = _run(capsys, tmp_path / "data", "shows", "import", str(path))
        assert code == 0, err


def test_output_piped_into_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """``scrobbletray destinations presets --json | head -c 10``: no 'error: Broken pipe'."""
    proc = subprocess.Popen([sys.executable, "-m", "app", "--data-dir", str(tmp_path), "destinations", "presets",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=Path(__file__).parents[1])
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader had enough before the command printed (it takes its imports' time)
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0 and "error" not in err, err
