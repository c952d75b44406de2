"""The runtime state file under writers from several threads at once (the core's own, the
catch-up's, the tunnel's): no write fails, no merge loses another's key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from app.core.config import Paths, load_state, save_state


def test_concurrent_saves_keep_every_key(paths: Paths) -> None:
    def save(n: int) -> None:
        for i in range(20):
            save_state(paths, **{f"writer{n}": i})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(save, range(8)))  # (re-raises any writer's error)
    state = load_state(paths)
    assert all(state[f"writer{n}"] == 19 for n in range(8))
    assert not list(paths.data_dir.glob("*.tmp"))  # no temporary file left behind
