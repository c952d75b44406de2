"""The runtime state file under writers from several threads at once (the core's own, the
catch-up's, the tunnel's): no write fails, no merge loses another's key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.core.config import Paths, load_state, save_state
from app.core.state_keys import StateKey

KEYS = list(StateKey)


def test_concurrent_saves_keep_every_key(paths: Paths) -> None:
    def save(n: int) -> None:
        for i in range(20):
            save_state(paths, **{KEYS[n]: i})

    with ThreadPoolExecutor(len(KEYS)) as pool:
        list(pool.map(save, range(len(KEYS))))  # (re-raises any writer's error)
    state = load_state(paths)
    assert all(state[key] == 19 for key in KEYS)
    assert not list(paths.data_dir.glob("*.tmp"))  # no temporary file left behind


def test_a_key_not_declared_is_refused(paths: Paths) -> None:
    with pytest.raises(KeyError, match="tunnel_onlin"):
        save_state(paths, tunnel_onlin=True)  # a typo would otherwise be a key nobody reads
    assert load_state(paths) == {}
