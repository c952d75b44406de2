"""What the tray icon, the status window and ``scrobbletray status`` say about the core's
state (pure, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.config import PlexLocation
from app.core.types import CoreStatus, DestinationState, DestinationStatus
from app.present.formatting import local_time


class TrayState(StrEnum):
    """The four looks of the tray icon (plus starting, drawn like paused)."""

    OK = "ok"
    ATTENTION = "attention"
    ERROR = "error"
    PAUSED = "paused"
    STARTING = "starting"

    @property
    def icon_name(self) -> str:
        return "paused" if self is TrayState.STARTING else self.value


@dataclass(frozen=True)
class Summary:
    """The state in one word-class, a headline and the details behind it."""

    state: TrayState
    headline: str
    details: tuple[str, ...] = ()
    unreachable: bool = False  # a Plex server where the user said it runs may not reach the URL

    @property
    def tooltip(self) -> str:
        return "\n".join(("Scrobble Tray", self.headline, *self.details))


def conflicts_text(n: int) -> str:
    return f"{n} conflict{'s' if n != 1 else ''} waiting"


def destinations_text(n: int, see: str = "the status window") -> str:
    return ("A destination is failing" if n == 1 else f"{n} destinations are failing") + \
        f": events wait for it (see {see})"


def tunnel_text(status: CoreStatus) -> str | None:
    """The tunnel's state in words, or None when it is off."""
    match status.tunnel:
        case "off":
            return None
        case "installing":
            pct = f" ({status.tunnel_progress:.0%})" if status.tunnel_progress is not None else ""
            return f"Tunnel: installing the ngrok agent{pct}"
        case "starting":
            return "Tunnel: connecting…"
        case "online":
            return "Tunnel: online"
        case "reconnecting":
            return "Tunnel: down, reconnecting…"
        case "error":
            return f"Tunnel: {status.tunnel_reason or 'failed'}"
    return f"Tunnel: {status.tunnel}"


def summarize(status: CoreStatus, see: str = "the status window") -> Summary:
    """Error beats paused beats attention beats all good."""
    details: list[str] = []
    if status.conflicts_open:
        details.append(conflicts_text(status.conflicts_open) + " for your decision")
    if tunnel := tunnel_text(status):
        details.append(tunnel)
    if status.url_changed:
        details.append("The public URL changed: paste the new webhook URL into Plex")
    if status.destinations_failing:
        details.append(destinations_text(status.destinations_failing, see))

    if status.server == "error":
        return Summary(TrayState.ERROR, f"Server error: {status.server_error or 'not listening'}",
                       tuple(details))
    if status.database_problem:
        hooks = f"Since {local_time(status.database_since)}, webhooks" if status.database_since else "Webhooks"
        held = f"; {status.database_held} held until it takes them" if status.database_held else ""
        return Summary(TrayState.ERROR, status.database_problem,
                       (f"{hooks} are answered with an error (503){held}", *details))
    if status.server in ("stopped", "starting"):
        return Summary(TrayState.STARTING, "Starting…" if status.server == "starting" else "Stopped",
                       tuple(details))
    if status.tunnel == "error":
        return Summary(TrayState.ERROR, "Tunnel failed: Plex outside this computer cannot reach it",
                       tuple(d for d in details if not d.startswith("Tunnel")) + (
                           (status.tunnel_reason,) if status.tunnel_reason else ()))
    if status.stopped_work:
        return Summary(TrayState.ERROR, status.stopped_work,
                       ("Quit and start Scrobble Tray again; the log file has the details", *details))
    if status.paused:
        return Summary(TrayState.PAUSED, "Paused: webhooks are kept, not processed", tuple(details))
    if status.processing_problem:
        fix = (f"{status.processing_fix}.",) if status.processing_fix else ()
        return Summary(TrayState.ATTENTION, status.processing_problem,
                       ("Webhooks are saved, and processed once it works again (tried every 2 s)", *fix, *details))
    if status.database_notice:
        return Summary(TrayState.ATTENTION, "The database was damaged: a new, empty one was made",
                       (*details, "The damaged file was kept, untouched, beside the new one"))
    if status.attention:
        if status.conflicts_open:
            head = conflicts_text(status.conflicts_open)
            rest = tuple(d for d in details if not d.startswith(head))
        elif status.destinations_failing:
            head = destinations_text(status.destinations_failing).split(":")[0]
            rest = tuple(d if not d.startswith(head) else f"Events wait for it: see {see}"
                         for d in details)
        else:
            head, rest = "Tunnel down, reconnecting…", tuple(d for d in details if not d.startswith("Tunnel"))
        return Summary(TrayState.ATTENTION, head, rest)
    return _reach(status, tuple(details))


LOOPBACK = ("127.0.0.1", "localhost", "::1")
_TUNNEL_HINT = "turn the tunnel on in Settings (an ngrok authtoken)"


def _reach(status: CoreStatus, details: tuple[str, ...]) -> Summary:
    """Green only when the Plex server the user has can reach the webhook: through the
    tunnel, or here / on the LAN when they said that is where Plex runs."""
    where = status.plex_location
    if status.tunnel == "online":
        return Summary(TrayState.OK, "All good: reachable from anywhere through the tunnel", details)
    if status.tunnel != "off":  # on its way: the details say how far
        return Summary(TrayState.OK, f"Listening on port {status.port}", details)
    if status.host in LOOPBACK or not status.host:
        if where == PlexLocation.THIS:
            return Summary(TrayState.OK, f"All good: listening for Plex on this computer (port {status.port})",
                           details)
        return Summary(TrayState.ATTENTION, "Only this computer can reach it",
                       (*details, f"A Plex server elsewhere cannot: {_TUNNEL_HINT}"), unreachable=True)
    if where in (PlexLocation.THIS, PlexLocation.NETWORK):
        return Summary(TrayState.OK, f"All good: reachable on the local network (port {status.port})", details)
    return Summary(TrayState.ATTENTION, "Only this network can reach it",
                   (*details, f"A Plex server outside it cannot: {_TUNNEL_HINT}"), unreachable=True)


def destination_words(d: DestinationStatus) -> tuple[str, str, str]:
    """``(check icon kind, state in words, the fix or "")`` for one destination."""
    since = f" since {local_time(d.oldest_pending_at)}" if d.oldest_pending_at else ""
    failed = f"; {d.failed} failed" if d.failed else ""
    match d.state:
        case DestinationState.OFF:
            return "info", "Off", ""
        case DestinationState.PAUSED:
            return "fail", f"Paused: {d.reason or 'every event is refused'}" + (
                f" ({d.pending} waiting)" if d.pending else ""), d.fix or ""
        case DestinationState.STOPPED:
            return "fail", f"Stopped: {d.reason or 'sending stopped unexpectedly'} ({d.pending} waiting{failed})", \
                d.fix or ""
        case DestinationState.FAILING:
            when = f" since {local_time(d.failing_since)}" if d.failing_since else ""
            return ("fail" if d.attention else "warn"), (
                f"Failing{when}: {d.reason or 'unknown error'} ({d.pending} waiting{failed})"), d.fix or ""
    if d.needs:
        return "warn", d.needs[:1].upper() + d.needs[1:] + (f" ({d.pending} waiting)" if d.pending else ""), d.fix or ""
    if d.kind == "builtin":
        return "pass", "Marks here as each event is processed, exactly once", ""
    if d.pending:
        said = f"; {d.reason}" if d.reason else ""  # e.g. the tracker asked to wait until …
        said += f"; {d.late}" if d.late else ""  # a tracker that dates a play when it receives it
        return "info", f"Delivering: {d.pending} waiting{since}{failed}{said}", ""
    if d.failed:
        return "warn", f"Up to date; {d.failed} refused: {d.reason or ''}".rstrip(": "), d.fix or ""
    last = f" (last delivery {local_time(d.last_delivered_at)})" if d.last_delivered_at else ""
    return "pass", f"Up to date{last}", ""
