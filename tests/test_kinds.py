"""The kinds of destination, declared once (app.core.destinations.kinds): each declaration is
complete, settings files of earlier versions load unchanged, and the generic parts of the
app read the registry instead of importing a kind."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from app.core import config
from app.core.config import Paths, Settings
from app.core.destinations import kinds
from app.core.destinations.base import Context, Kind, OutboxDestination, Target
from app.core.destinations.kinds import KINDS

ROOT = Path(__file__).parents[1]

# settings.json as the version before the registry wrote it (every destination key spelled out).
EARLIER = {
    "port": 47810,
    "stop_threshold": 0.9,
    "relays": [{"id": "relay-1", "url": "http://localhost:3000/api/plex/webhook?secret=abc", "only_watched": True,
                "enabled": False, "label": "Episode tracker"}],
    "postgres": [{"id": "postgres-1", "url": "postgresql+psycopg://me@localhost:5432/tracker", "enabled": True,
                  "label": "", "spelling": {"season": "seasonNumber"}}],
}


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_each_kind_is_declared_completely(kind: Kind) -> None:
    field = next(f for f in dataclasses.fields(Settings) if f.name == kind.settings_key)
    assert field.default_factory() == []  # type: ignore[misc]
    assert dataclasses.is_dataclass(kind.target) and issubclass(kind.target, Target)
    assert {"id", "url", "enabled", "label"} <= {f.name for f in dataclasses.fields(kind.target)}
    assert kind.id_prefix == f"{kind.name}-" and kind.label and kind.add_help
    for option in kind.options:
        assert option.name in {f.name for f in dataclasses.fields(kind.target)} and option.flag.startswith("--")
    for f in kind.fields:  # (a secret is kept with the secrets, never in the target)
        assert f.flag.startswith("--") and (f.secret or f.name in {x.name for x in dataclasses.fields(kind.target)})
    if kind.takes_url:
        assert kind.url_help and kind.url_problem("not a url at all")
    else:  # (where it delivers is the service's, its account signed in)
        assert kind.signs_in and not kind.url_problem("")


def test_kind_names_and_settings_keys_are_unique() -> None:
    assert len({k.settings_key for k in KINDS.values()}) == len(KINDS)
    assert all(name == k.name for name, k in KINDS.items())


def test_a_settings_file_of_the_earlier_version_loads_and_saves_unchanged(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    paths.ensure()
    paths.settings_file.write_text(json.dumps(EARLIER))
    settings = config.load_settings(paths)
    assert [(k.name, t.id) for k, t in kinds.targets(settings)] == [("relay", "relay-1"), ("postgres", "postgres-1")]
    config.save_settings(paths, settings)
    saved = json.loads(paths.settings_file.read_text())
    assert {k: saved[k] for k in EARLIER} == EARLIER
    assert config.RelayTarget is KINDS["relay"].target  # the old import still works


def test_add_gives_each_kind_its_next_id_and_takes_secrets_out(tmp_path: Path) -> None:
    settings = Settings.from_dict(EARLIER)
    relay, secrets = config.add_destination(settings, "relay", " http://localhost:3001/hook?secret=x ", " Two ",
                                            only_watched=False)
    assert (relay.id, relay.url, relay.label, secrets) == ("relay-2", "http://localhost:3001/hook?secret=x", "Two", {})
    pg, secrets = config.add_destination(settings, "postgres", "postgresql://me:s%40cret@db.lan/tracker")
    assert (pg.id, pg.url) == ("postgres-2", "postgresql+psycopg://me@db.lan/tracker")
    assert secrets == {"postgres-password-postgres-2": "s@cret"} and KINDS["postgres"].secrets(pg) == list(secrets)
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        config.add_destination(settings, "postgres", "mysql://nope")
    with pytest.raises(ValueError, match="has no option"):
        config.add_destination(settings, "postgres", "postgresql://db/t", only_watched=True)
    with pytest.raises(ValueError, match="no kind of destination 'smtp'"):
        config.add_destination(settings, "smtp", "smtp://x")
    assert [t.id for _, t in kinds.targets(kinds.without(settings, "relay-1"))] == [
        "relay-2", "postgres-1", "postgres-2"]
    assert settings.validate() == []
    settings.relays[0].url = "localhost:3000"
    assert settings.validate() == [f"relay relay-1: {KINDS['relay'].url_problem('localhost:3000')}"]


def test_every_kind_builds_an_outbox_destination_that_says_its_kind() -> None:
    settings = Settings.from_dict(EARLIER)
    built = kinds.build(settings, Context(lambda: settings))
    assert [(d.id, d.kind) for d in built] == [("relay-1", "relay"), ("postgres-1", "postgres")]
    assert all(isinstance(d, OutboxDestination) for d in built)
    assert built[0].label == "Episode tracker" and built[1].label == "PostgreSQL tracker tracker on localhost"


GENERIC = ["app/core/destinations/manager.py", "app/core/conflicts.py",
           "app/core/facade.py", "app/core/runtime/__init__.py", "app/core/runtime/delivery.py",
           "app/core/config.py", "app/cli/destinations.py", "app/cli/config.py",
           "app/ui/destinations_page.py", "app/ui/target_dialog.py"]


@pytest.mark.parametrize("path", GENERIC)
def test_the_generic_parts_import_no_kind(path: str) -> None:
    """Only the registry imports the kinds' modules (and the UI's dialog list, the dialogs);
    Settings names each kind's list, for type checkers only."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for n in ast.walk(block)}
    imported = {node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and id(node) not in typing_only}
    kind_modules = {f"app.core.destinations.{name}" for name in KINDS}
    assert not {m for m in imported if m in kind_modules or m.rpartition(".")[0] in kind_modules}
    assert not imported & {"app.ui.relay_dialog", "app.ui.postgres_dialog"}
