"""A reading command loads what it reads with, not the server, the tunnel or the HTTP client
(issue 26: "a CLI at the speed of a CLI"); what :mod:`app.core.lazy` defers loads on first use.

The timings are tests/bench/cli_speed.py's; these tests check what each command imports,
in a fresh interpreter, so they fail the day a module of the reading path imports
something heavy at its top again.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.core.config import Paths, Settings
from app.core.runtime import open_store
from tests.helpers import episode_payload

ROOT = Path(__file__).parents[1]

#: What no reading command needs: aiohttp's client and server (with its SSL set-up), the
#: tunnel's agent, the migrations' tool, the keyring, Qt, and the serving parts of the core.
HEAVY = ("aiohttp.client", "aiohttp.web", "yaml", "pyngrok", "alembic", "keyring", "PySide6", "qasync",
         "app.ui", "app.core.webhooks", "app.core.control", "app.core.tunnel", "app.core.worker",
         "app.core.inbox")

#: Prints the modules really loaded (a lazy stand-in not yet used does not count) after a command.
PROBE = """
import contextlib, io, json, sys
from app.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
loaded = [m for m, mod in sys.modules.items() if type(mod).__name__ != "_LazyModule"]
print(json.dumps({"code": code, "modules": loaded}))
"""


def _loaded(*argv: str) -> tuple[int, set[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    return found["code"], set(found["modules"])


def _heavy(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture
def folder(tmp_path: Path) -> Paths:
    """A migrated data folder with a show and a processed webhook."""
    paths = Paths(tmp_path / "data")
    store = open_store(paths, Settings())
    store.add_show(title="Breaking Bad", year=2008, tmdb_id=1396)
    store.ingest([(json.dumps(episode_payload(1, 1)), None)])
    store.process_pending()
    return paths


@pytest.mark.parametrize("command", [("shows", "list"), ("scrobbles",), ("destinations", "list"),
                                     ("conflicts", "list"), ("episodes", "--show", "1")])
def test_a_reading_command_loads_neither_the_server_the_tunnel_nor_the_http_client(
        folder: Paths, command: tuple[str, ...]) -> None:
    code, modules = _loaded("--data-dir", str(folder.data_dir), *command)
    assert code == 0
    assert {"sqlalchemy.orm", "app.core.facade"} <= modules  # (it did read the database, through the façade)
    assert _heavy(modules) == []


def test_status_of_an_app_not_running_does_not_even_open_the_database(folder: Paths) -> None:
    code, modules = _loaded("--data-dir", str(folder.data_dir), "status")
    assert code == 3  # not running
    assert _heavy(modules, (*HEAVY, "sqlalchemy", "rapidfuzz", "app.core.facade", "app.core.store")) == []


def test_a_lazy_package_loads_on_first_use_and_then_is_itself(tmp_path: Path) -> None:
    (tmp_path / "slowpkg").mkdir()
    (tmp_path / "slowpkg" / "__init__.py").write_text("import sys\nsys.slowpkg_loaded = True\nVALUE = 42\n")
    code = ("import sys\nfrom app.core.lazy import lazy\n"
            "pkg = lazy('slowpkg')\nbefore = hasattr(sys, 'slowpkg_loaded')\n"
            "value = pkg.VALUE\n"
            "import slowpkg\n"
            "print(before, sys.slowpkg_loaded, value, slowpkg is pkg, lazy('slowpkg') is pkg)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": f"{tmp_path}:{ROOT}"}, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "42", "True", "True"]


def test_a_lazy_package_that_is_not_there_says_so_at_once() -> None:
    from app.core.lazy import lazy

    with pytest.raises(ModuleNotFoundError, match="no_such_package_here"):
        lazy("no_such_package_here")


@pytest.mark.parametrize("argv", [
    ["--data-dir", "/x", "shows", "list", "--json"], ["shows", "--data-dir=/x", "list", "--search", "bad"],
    ["-v", "episodes", "--show", "3"], ["scrobbles", "--limit", "5", "--action", "marked"],
    ["--database-url", "sqlite://", "destinations", "add-relay", "http://h/", "--label", "x"],
    ["config", "get", "port"], ["status", "--json"], ["--self-test"], ["--data-dir", "/x"]])
def test_the_parser_of_one_command_reads_it_as_the_whole_parser_does(argv: list[str]) -> None:
    """Only the named command's parser is built (see cli.parse); what it reads is the same."""
    whole = cli.parser().parse_args(cli._globals_first(argv))
    assert cli.parse(argv) == whole
