"""The match index built at start on a thread of its own is used only if no show changed
while it was being built (every change is made on the database thread, which would have
put it in an index the warm one does not have)."""

from __future__ import annotations

from pathlib import Path

from app.core.config import Paths, Settings
from app.core.runtime import open_store
from app.core.store import Store


def _store(tmp_path: Path) -> Store:
    store = open_store(Paths(tmp_path / "data"), Settings())
    store.add_show(title="Breaking Bad", year=2008, tmdb_id=1396)
    store.builtin.forget_index()
    return store


def _titles(store: Store) -> set[str]:
    with store.sessions() as session:
        return {c.title for c in store.index(session).search("Severance Andor Breaking Bad", limit=10)} | {
            c.title for name in ("Severance", "Andor", "Breaking Bad", "Severance (Apple TV+)")
            for c in store.index(session).search(name, limit=1)}


def test_a_warm_index_with_nothing_changed_meanwhile_is_used(tmp_path: Path) -> None:
    store = _store(tmp_path)
    built = store.warm_index()
    assert built is not None
    store.builtin.install_index(*built)
    with store.sessions() as session:
        assert store.index(session) is built[0]


def test_a_show_added_or_renamed_while_it_was_built_is_not_lost(tmp_path: Path) -> None:
    store = _store(tmp_path)
    built = store.warm_index()  # (the shows as they were: Breaking Bad)
    assert built is not None
    added = store.add_show(title="Severance", year=2022)
    store.builtin.install_index(*built)
    assert "Severance" in _titles(store)

    store.builtin.forget_index()
    built = store.warm_index()
    assert built is not None
    with store.sessions() as session:
        store.index(session)  # (a webhook came first: the database thread built its own)
    store.update_show(added.id, title="Severance (Apple TV+)", year=2022)
    store.builtin.install_index(*built)
    assert "Severance (Apple TV+)" in _titles(store) and "Severance" not in _titles(store)

    store.builtin.forget_index()
    built = store.warm_index()
    assert built is not None
    store.update_show(added.id, title="Andor", year=2022)  # (a rename moves no stamp)
    store.builtin.install_index(*built)
    assert "Andor" in _titles(store)
