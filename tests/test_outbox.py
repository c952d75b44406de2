"""The outbox and its schedule, on a real SQLite file: queued with the settling of a row,
never twice, retried with capped back-off, paced after a 429."""

from __future__ import annotations

import json
import sqlite3

from app.core.config import Paths, RelayTarget, Settings
from app.core.destinations.outbox import backoff
from app.core.destinations.sender import Pacer
from app.core.runtime import open_store
from tests.helpers import BREAKING_BAD, SAMPLES, episode_payload


def _tracker(tmp_path, only_watched: bool):  # type: ignore[no-untyped-def]
    settings = Settings(relays=[RelayTarget("relay-1", "http://127.0.0.1:9/hook?secret=x", only_watched)])
    return open_store(Paths(tmp_path), settings)


def test_every_settled_event_is_queued_once_except_our_own_self_test(tmp_path) -> None:
    tracker = _tracker(tmp_path, only_watched=False)
    tracker.add_show(**BREAKING_BAD)
    self_test = json.dumps({"event": "scrobbletray.selftest", "user": True})
    tracker.ingest([(json.dumps(episode_payload(1, 1)), None),
                    (json.dumps(episode_payload(1, 1, event="media.play")), None),
                    (self_test, None), ("not json", None)])
    tracker.process_pending()
    assert tracker.delivery_stats()["relay-1"].pending == 3  # a bad payload is relayed too: the target decides
    tracker.rerun(4)  # settled again: not queued twice
    assert tracker.delivery_stats()["relay-1"].pending == 3


def test_only_watched_waits_for_a_conflict_to_be_resolved(tmp_path) -> None:
    tracker = _tracker(tmp_path, only_watched=True)
    tracker.ingest([((SAMPLES / "scrobble-unknown-show.json").read_text(), None)])
    tracker.process_pending()
    assert "relay-1" not in tracker.delivery_stats()  # a conflict has not counted yet
    [conflict] = tracker.conflicts()
    tracker.resolve_conflict(conflict.id, create=True)
    assert tracker.delivery_stats()["relay-1"].pending == 1  # now it has


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    for attempts, top in ((1, 2.0), (2, 4.0), (5, 32.0), (30, 300.0)):
        delays = [backoff(attempts, 2.0, 300.0) for _ in range(200)]
        assert all(top / 2 <= d <= top for d in delays)
        assert max(delays) - min(delays) > top / 10  # jitter: not in lock-step


async def test_pacer_learns_the_rate_a_429_tells_and_relaxes_later() -> None:
    now = [100.0]
    pacer = Pacer(clock=lambda: now[0])
    for _ in range(100):  # a burst is accepted in 0.5 s, then the target says "wait 59 s"
        await pacer.wait()
        pacer.accepted()
        now[0] += 0.005
    wait = pacer.limited(59.0)
    assert wait == 59.0
    learned = pacer.interval
    assert 0.6 <= learned <= 0.75  # 100 a minute, with a margin
    for _ in range(Pacer.RELAX_AFTER):  # a long run without a 429: the pace creeps back up
        pacer.accepted()
    assert pacer.interval < learned


async def test_pacer_interval_is_capped_a_bare_429_teaches_no_pace_and_retry_resets_it() -> None:
    now = [100.0]
    pacer = Pacer(clock=lambda: now[0], cap=10.0)
    for _ in range(20):  # 429s that say nothing of when to come back: wait, learn nothing
        assert pacer.limited(None, guess=2.0) == 2.0
        now[0] += 2.0
    assert pacer.interval == 0.0
    for _ in range(20):  # (before: the interval grew 4.6 times with each, without end)
        pacer.limited(300.0)
        now[0] += 300.0
    assert 0 < pacer.interval <= 10.0
    pacer.limited(300.0)
    assert pacer.ready_in() == 300.0
    pacer.reset()  # the user's Retry
    assert (pacer.interval, pacer.ready_in()) == (0.0, 0.0)


def test_a_published_pace_is_slowed_a_little_by_a_429_not_taught_the_length_of_a_block() -> None:
    now = [100.0]
    pacer = Pacer(clock=lambda: now[0], floor=1.2)  # Trakt's one POST a second, with a margin
    assert pacer.interval == 1.2
    for _ in range(100):
        pacer.sent()
        pacer.accepted()
        now[0] += 1.2
    assert pacer.limited(300.0) == 300.0  # the 5-minute block: waited out once
    assert pacer.interval == 1.5  # not (120 s + 300 s) / 100 sends
    pacer.reset()
    assert pacer.interval == 1.2


def test_a_batch_gives_way_before_it_takes_the_write_lock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Queueing deliveries writes (and flushes the batch): giving way to webhooks after that
    held the very lock they wait for (up to 5 ms, for nothing)."""
    tracker = _tracker(tmp_path, only_watched=False)
    tracker.add_show(**BREAKING_BAD)
    tracker.ingest([(json.dumps(episode_payload(1, n)), None) for n in range(1, 4)])
    other = sqlite3.connect(Paths(tmp_path).database_file, timeout=0, isolation_level=None)

    def lock_free() -> bool:  # another connection takes the write lock at once, or not
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        other.execute("ROLLBACK")
        return True
    seen: list[bool] = []
    outcomes = tracker.process_pending(give_way=lambda: seen.append(lock_free()))
    other.close()
    assert [o.action for o in outcomes] == ["marked"] * 3
    assert len(seen) == 4 and all(seen), seen
    assert tracker.delivery_stats()["relay-1"].pending == 3
