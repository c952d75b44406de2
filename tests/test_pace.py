"""Processing keeps pace: a signed-in batch parses each payload once, and a backlog goes in
growing batches (not 20 rows every half second), in order and exactly once."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from app.core import payload as payload_module
from app.core.facade import Core
from app.core.store.plex_facts import MOST_QUESTIONS
from app.core.worker import BATCH, BUSY_BATCH, MAX_BATCH, next_limit
from tests.fake_plex import FakePlexTv, FakePms
from tests.helpers import BREAKING_BAD, episode_payload, post, settled, wait_for, webhook_url

pytestmark = pytest.mark.timeout(90)


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every payload parsed (whoever imported parse_payload calls event_from_dict through
    the payload module), by the episode's rating key."""
    parsed: Counter[str] = Counter()
    real = payload_module.event_from_dict

    def counting(data: Any) -> Any:
        parsed[str(data.get("Metadata", {}).get("ratingKey"))] += 1
        return real(data)
    monkeypatch.setattr(payload_module, "event_from_dict", counting)
    return parsed


async def test_a_signed_in_batch_parses_each_payload_once(paths, settings, plex: tuple[FakePlexTv, FakePms],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    core = Core(paths, settings)
    await core.start()
    try:
        assert core.runtime.plex.connected
        await wait_for(lambda: core.status.plex.caught_up, timeout=15)  # (catch-up reads pending rows too)
        store = core.runtime.store
        await core.runtime.run(store.add_show, **BREAKING_BAD)
        core.set_paused(True)
        for n in range(1, 31):
            status, _ = await post(webhook_url(core), episode_payload(1, n))
            assert status == 200
        parsed = _count_parses(monkeypatch)
        core.set_paused(False)
        await settled(core)
        assert set(parsed) == {str(100000 + 1000 + n) for n in range(1, 31)}
        assert set(parsed.values()) == {1}, f"parsed more than once: {parsed}"
        rows = await core.runtime.run(store.scrobbles, 100)
        assert Counter(r.action for r in rows) == {"marked": 30}
    finally:
        await core.stop()


async def test_a_backlog_is_processed_in_growing_batches_in_order_and_once(core: Core,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store = core.runtime.store
    assert store is not None
    batches: list[tuple[int, list[int]]] = []  # (limit, the inbox ids it processed)
    real = store.process_pending

    def recording(limit: int, *args: Any) -> Any:
        outcomes = real(limit, *args)
        batches.append((limit, [o.event_id for o in outcomes]))
        return outcomes
    monkeypatch.setattr(store, "process_pending", recording)
    core.set_paused(True)
    items = [(json.dumps(episode_payload(1 + n // 100, 1 + n % 100)), "127.0.0.1") for n in range(500)]
    ids = await core.runtime.run(store.ingest, items)
    core.set_paused(False)
    await settled(core)

    done = [event_id for _, processed in batches for event_id in processed]
    assert done == ids  # oldest first, each once
    full = [limit for limit, processed in batches if processed]
    assert len(full) <= 7, f"500 rows took {len(full)} batches: {full}"  # (25 of 20 rows before)
    assert full[:4] == [BATCH, 2 * BATCH, 4 * BATCH, 8 * BATCH]
    assert await core.runtime.run(store.actions_of, ids) == {"marked": 500}


def test_batches_grow_while_behind_less_while_webhooks_arrive_and_shrink_once_caught_up() -> None:
    assert next_limit(BATCH, BATCH, arriving=False) == 2 * BATCH
    assert next_limit(MAX_BATCH, MAX_BATCH, arriving=False) == MAX_BATCH
    assert next_limit(BATCH, BATCH, arriving=True) == min(2 * BATCH, BUSY_BATCH)
    assert next_limit(8 * BATCH, 8 * BATCH, arriving=True) == BUSY_BATCH
    assert next_limit(8 * BATCH, 3, arriving=False) == BATCH
    assert next_limit(8 * BATCH, 0, arriving=True) == BATCH


async def test_a_big_batch_asks_the_plex_servers_no_more_than_a_small_one_did(core: Core) -> None:
    """Stops without progress each need a question to their server (4 at a time, within
    FACTS_WAIT): a batch grown to 400 rows ends at the row that asked the 40th."""
    store = core.runtime.store
    assert store is not None
    core.set_paused(True)
    stops = [(json.dumps(episode_payload(1, n, event="media.stop", viewOffset=None)), "127.0.0.1")
             for n in range(1, 101)]
    ids = await core.runtime.run(store.ingest, stops)
    ask = await core.runtime.run(store.plex_questions, MAX_BATCH)
    assert [event_id for event_id, *_ in ask.stops] == ids[:MOST_QUESTIONS]
    assert ask.up_to == ids[MOST_QUESTIONS - 1] and sorted(ask.parsed) == ids[:MOST_QUESTIONS]
    outcomes = await core.runtime.run(store.process_pending, MAX_BATCH, ask.up_to, ask.parsed)
    assert [o.event_id for o in outcomes] == ids[:MOST_QUESTIONS]  # the rest wait for the next batch
