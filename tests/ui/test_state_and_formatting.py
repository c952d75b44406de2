"""What the tray and windows say: pure functions over the core's status and rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.core.logs import redact
from app.core.timefmt import ago
from app.core.types import Action, CoreStatus, DeliveryMark, DeliveryState, ScrobbleRow
from app.present.formatting import (
    MASK,
    confidence_text,
    delivered_detail,
    delivered_text,
    episode_code,
    outcome_text,
    plex_item,
    sxxeyy,
)
from app.present.state import TrayState, summarize
from app.ui import icons

LISTENING = CoreStatus(server="listening", host="127.0.0.1", port=47810)


@pytest.mark.parametrize("status, state, headline", [
    (CoreStatus(server="listening", port=1, destinations_failing=1), TrayState.ATTENTION,
     "A destination is failing"),
    (LISTENING, TrayState.ATTENTION, "Only this computer can reach it"),  # first start: Plex may be anywhere
    (CoreStatus(server="listening", host="127.0.0.1", port=47810, plex_location="this"), TrayState.OK,
     "All good: listening for Plex on this computer (port 47810)"),
    (CoreStatus(server="listening", host="0.0.0.0", port=47810), TrayState.ATTENTION,
     "Only this network can reach it"),
    (CoreStatus(server="listening", host="0.0.0.0", port=47810, plex_location="network"), TrayState.OK,
     "All good: reachable on the local network (port 47810)"),
    (CoreStatus(server="listening", host="127.0.0.1", port=47810, plex_location="elsewhere"),
     TrayState.ATTENTION, "Only this computer can reach it"),
    (CoreStatus(server="listening", host="127.0.0.1", port=1, tunnel="online", public_url="https://x.ngrok-free.app"),
     TrayState.OK, "All good: reachable from anywhere through the tunnel"),
    (CoreStatus(server="starting"), TrayState.STARTING, "Starting…"),
    (CoreStatus(server="error", server_error="port 47810 is in use"), TrayState.ERROR,
     "Server error: port 47810 is in use"),
    (CoreStatus(server="listening", port=1, paused=True, conflicts_open=2), TrayState.PAUSED,
     "Paused: webhooks are kept, not processed"),
    (CoreStatus(server="listening", port=1, conflicts_open=2), TrayState.ATTENTION, "2 conflicts waiting"),
    (CoreStatus(server="listening", port=1, conflicts_open=1), TrayState.ATTENTION, "1 conflict waiting"),
    (CoreStatus(server="listening", port=1, tunnel="reconnecting"), TrayState.ATTENTION,
     "Tunnel down, reconnecting…"),
    (CoreStatus(server="listening", port=1, tunnel="error", tunnel_reason="authtoken rejected"),
     TrayState.ERROR, "Tunnel failed: Plex outside this computer cannot reach it"),
    (CoreStatus(server="listening", port=1, tunnel="error", paused=True,
                database_problem="The disk holding the database is full"),
     TrayState.ERROR, "The disk holding the database is full"),  # before all else: plays are being lost
    (CoreStatus(server="listening", port=1, plex_location="this", database_notice="moved to x.damaged-1"),
     TrayState.ATTENTION, "The database was damaged: a new, empty one was made"),
])
def test_summary_state_and_headline(status: CoreStatus, state: TrayState, headline: str) -> None:
    summary = summarize(status)
    assert (summary.state, summary.headline) == (state, headline)
    assert summary.tooltip.startswith(f"Scrobble Tray\n{headline}")
    assert icons.icon_path(f"tray-{state.icon_name}").is_file()


def test_database_trouble_says_since_when_and_how_many_are_held() -> None:
    since = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    s = summarize(CoreStatus(server="listening", port=1, database_problem="The database is locked by another "
                             "program", database_since=since, database_held=3))
    assert s.details[0].startswith("Since ") and s.details[0].endswith(
        "webhooks are answered with an error (503); 3 held until it takes them")


def test_loopback_only_says_how_plex_elsewhere_gets_in() -> None:
    assert summarize(LISTENING).details[-1] == ("A Plex server elsewhere cannot: turn the tunnel on in "
                                                "Settings (an ngrok authtoken)")


def test_summary_details_name_everything_else() -> None:
    s = summarize(CoreStatus(server="listening", port=1, paused=True, conflicts_open=3, tunnel="online",
                             public_url="https://x.ngrok-free.app", url_changed=True))
    assert s.details == ("3 conflicts waiting for your decision", "Tunnel: online",
                         "The public URL changed: paste the new webhook URL into Plex")
    installing = summarize(CoreStatus(server="listening", port=1, tunnel="installing", tunnel_progress=0.42))
    assert installing.details == ("Tunnel: installing the ngrok agent (42%)",)
    failed = summarize(CoreStatus(server="listening", port=1, tunnel="error", tunnel_reason="bad token"))
    assert failed.details == ("bad token",)


def test_every_icon_is_found_beside_the_code_not_the_working_directory(qapp, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for state in TrayState:
        assert not icons.tray_icon(state).isNull()
    for name in ("app", "copy", "eye", "eye-off", "check-pass", "check-warn", "check-fail", "check-info"):
        assert icons.icon_path(name).is_file(), name
        assert not icons.icon(name).pixmap(16, 16).isNull(), name


def test_text_helpers() -> None:
    assert redact("http://h:1/webhook/s3cret", "s3cret", "", mask=MASK) == "http://h:1/webhook/••••••"
    assert sxxeyy(1, 2) == "S01E02" and sxxeyy(None, 3) == "S??E03" and sxxeyy(None, None) == ""
    def row(**values: Any) -> ScrobbleRow:
        return ScrobbleRow(1, datetime(2025, 1, 1), "done", **values)
    assert outcome_text(row(action=Action.IGNORED, reason="music is not tracked")) == \
        "Ignored: music is not tracked"
    heat = row(plex_title="Heat", plex_year=1995, media_type="movie", kind="movie")
    assert (plex_item(heat), episode_code(heat)) == ("Heat (1995)", "Movie")
    episode = row(plex_title="Breaking Bad", season=1, episode=2)
    assert (plex_item(episode), episode_code(episode)) == ("Breaking Bad", "S01E02")
    assert outcome_text(row(action=Action.MARKED)) == "Marked"
    assert outcome_text(row()) == "Pending…"
    assert confidence_text(row(confidence=0.93, match_method="title")) == "93% · similar title"
    assert confidence_text(row()) == ""
    delivered = row(action=Action.MARKED, deliveries=(
        DeliveryMark("Web tracker", DeliveryState.DELIVERED),
        DeliveryMark("Backup", DeliveryState.FAILED, "refused (HTTP 403)")))
    assert delivered_text(delivered) == "Built-in ✓ · Web tracker ✓ · Backup failed"
    assert delivered_detail(delivered) == "Web tracker: delivered\nBackup: failed (refused (HTTP 403))"
    assert delivered_text(row(action=Action.IGNORED)) == ""
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert ago(now - timedelta(seconds=10), now) == "just now"
    assert ago((now - timedelta(minutes=5)).replace(tzinfo=None).isoformat(), now) == "5 min ago"
    assert ago(now - timedelta(hours=5), now) == "5 h ago"
    assert ago(None, now) == "never"
