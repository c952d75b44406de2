"""No sender dies silently: an error in one event fails that event (with its reason, logged
once) and the next goes on; a sender whose task ends anyway is shown stopped everywhere
(the status, the status file the CLI reads, the status window's words, Diagnostics) until
Retry starts it again."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from sqlalchemy import select

from app.core import status_file
from app.core.config import Paths, RelayTarget, Settings
from app.core.destinations.base import Attempt, Delivery, OutboxDestination, Settled, Verdict
from app.core.destinations.outbox import Outbox
from app.core.destinations.sender import Sender, Timing
from app.core.models import Delivery as DeliveryRow
from app.core.runtime import open_store
from app.core.types import Check, DestinationState
from app.present.state import destination_words
from tests.fake_tracker import FakeTracker
from tests.helpers import BREAKING_BAD, episode_payload, wait_for
from tests.test_relay import SECRET, burst, delivered_all, relay_status, started


class Flaky(OutboxDestination):
    """A destination with a bug: sending some events raises (as a library's surprise would)."""

    kind = "relay"

    def __init__(self, breaks_on: set[int]) -> None:
        super().__init__("relay-1", "Flaky tracker")
        self.breaks_on = breaks_on
        self.got: list[int] = []

    def wants(self, event: Settled) -> bool:
        return True

    async def checks(self) -> list[Check]:
        return []

    async def send(self, delivery: Delivery) -> Attempt:
        if delivery.event_id in self.breaks_on:
            raise RuntimeError(f"no such field in event {delivery.event_id}")
        self.got.append(delivery.event_id)
        return Attempt(Verdict.DELIVERED, "accepted")


async def test_an_error_in_one_event_fails_that_event_and_the_next_goes_on(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    store = open_store(Paths(tmp_path), Settings(relays=[RelayTarget("relay-1", "http://127.0.0.1:9/hook")]))
    store.add_show(**BREAKING_BAD)
    store.ingest([(json.dumps(episode_payload(1, n)), None) for n in range(1, 6)])
    store.process_pending()
    destination = Flaky(breaks_on={2, 4})

    async def db(fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    sender = Sender(destination, Outbox(store.sessions), db, Timing(pause_after=5), lambda: None)
    sender.start()
    try:
        await wait_for(lambda: store.delivery_stats()["relay-1"].pending == 0, timeout=10)
        assert sender.alive and sender.state is DestinationState.OK
    finally:
        await sender.stop()
    assert destination.got == [1, 3, 5]
    stats = store.delivery_stats()["relay-1"]
    assert (stats.delivered, stats.failed) == (3, 2)
    with store.sessions() as session:
        errors = dict(session.execute(select(DeliveryRow.event_id, DeliveryRow.last_error)
                                      .where(DeliveryRow.state == "failed")).all())
    assert errors == {2: "could not be sent: RuntimeError: no such field in event 2",
                      4: "could not be sent: RuntimeError: no such field in event 4"}
    assert caplog.text.count("Traceback") == 1, "logged once with its traceback, then one line each"


async def test_a_sender_that_ends_anyway_is_shown_stopped_until_retry(paths, settings) -> None:
    async with FakeTracker(secret=SECRET, limit=0) as tracker:
        core = await started(paths, settings, tracker.url)
        try:
            await burst(core, 2, clients=1)
            await delivered_all(core)
            manager = core.runtime._destinations
            assert manager is not None
            task = manager.senders["relay-1"]._task
            assert task is not None
            task.cancel()  # the sender's task ends, not through stop()

            await wait_for(lambda: _stopped(core), timeout=5)
            d = await relay_status(core)
            assert "stopped unexpectedly" in (d.reason or "") and "Retry" in (d.fix or "")
            assert d.attention and core.status.attention
            icon, words, fix = destination_words(d)
            assert icon == "fail" and words.startswith("Stopped:") and "Retry" in fix
            checks = {c.name: c for c in await core.diagnostics()}
            assert checks[f"{d.label}: sending"].status == "fail"
            await wait_for(lambda: status_file.destinations(paths).get("relay-1", {}).get("state") == "stopped",
                           timeout=5)  # what 'status --json' and 'destinations list' read

            await burst(core, 2, clients=1, start=10)  # waits: nobody sends it
            await asyncio.sleep(0.3)
            assert (await relay_status(core)).pending == 2
            await core.retry_destination("relay-1")
            await delivered_all(core)
            d = await relay_status(core)
            assert d.state is not DestinationState.STOPPED and d.delivered == 4
        finally:
            await core.stop()


async def _stopped(core: Any) -> bool:
    return (await relay_status(core)).state is DestinationState.STOPPED




# -- the core's own loops ---------------------------------------------------------------------

class Boom(BaseException):
    """Ends a task whatever it catches (an ``except Exception`` does not stop it)."""


async def test_a_failing_look_at_the_destinations_is_not_the_end_of_the_loop(core, monkeypatch) -> None:
    """One look fails (its database busy, say): the next ones still happen."""
    from app.core.runtime import delivery
    monkeypatch.setattr(delivery, "WATCH_EVERY", 0.05)
    looks: list[int] = []

    def look() -> None:
        looks.append(1)
        if len(looks) == 1:
            raise RuntimeError("database is locked")
    monkeypatch.setattr(core.runtime, "_watch_destinations", look)
    await wait_for(lambda: len(looks) >= 3, timeout=15)  # (its first sleep began at 5 s)
    assert core.status.stopped_work is None


async def test_a_loop_that_ends_anyway_is_said_in_the_status_the_cli_and_diagnostics(
        core, paths, monkeypatch) -> None:
    from app.core.runtime import delivery
    from app.present.state import summarize
    monkeypatch.setattr(delivery, "WATCH_EVERY", 0.05)

    def look() -> None:
        raise Boom("a bug")
    monkeypatch.setattr(core.runtime, "_watch_destinations", look)
    await wait_for(lambda: core.status.stopped_work is not None, timeout=15)
    said = "Watching the destinations stopped unexpectedly (Boom: a bug)"
    assert core.status.stopped_work == said
    summary = summarize(core.status)
    assert summary.headline == said and summary.state.value == "error"
    assert any("start Scrobble Tray again" in d for d in summary.details)

    def written() -> bool:  # what `scrobbletray status` reads
        read = status_file.read(paths)
        return read is not None and read[0].stopped_work == said
    await wait_for(written, timeout=status_file.EVERY + 3)
    checks = await core.diagnostics()
    assert any(c.name == "Background work" and c.status.value == "fail" and c.detail == said for c in checks)


async def test_refusals_of_single_events_never_pause_a_destination() -> None:
    """Three items unknown there in a row (Trakt's not_found, MediaTracker's Guid-less play)
    fail those events; the next one still goes."""
    from app.core.destinations.base import Attempt, Delivery, Verdict
    from app.core.destinations.sender import Sender, Timing

    answers = [Attempt(Verdict.REFUSED, "not found there", event_only=True)] * 4 + [Attempt(Verdict.DELIVERED, "ok")]
    recorded: list[tuple[int, Attempt, float | None]] = []

    class Dest:
        id, label, idempotent, exactly_once, min_interval = "d", "D", True, False, 0.0

        async def send(self, item: Delivery) -> Attempt:
            return answers[item.id - 1]

    class Box:
        def record(self, rows: list[tuple[int, Attempt, float | None]]) -> None:
            recorded.extend(rows)

    async def db(fn: object, *args: object) -> object:
        return fn(*args)  # type: ignore[operator]

    sender = Sender(Dest(), Box(), db, Timing(), lambda: None)  # type: ignore[arg-type]
    await sender._send_all([Delivery(n, n, "{}", 0, None) for n in range(1, 6)])
    assert not sender.paused and [a.verdict for _, a, _ in recorded] == [Verdict.REFUSED] * 4 + [Verdict.DELIVERED]
