"""Turning the store's rows and times into the words the windows and the CLI show (pure, no Qt)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.routes import ROUTED_NOWHERE
from app.core.timefmt import parse_utc
from app.core.types import Action, DeliveryState, Outcome, PlexStatus, ScrobbleRow, ShowRow

MASK = "••••••"  # how the windows show a secret: redact(text, *secrets, mask=MASK)

OUTCOME_WORDS = {
    "marked": "Marked",
    "rewatch": "Rewatch",
    "duplicate": "Duplicate",
    "ignored": "Ignored",
    "conflict": "Conflict",
    "failed": "Failed",
    "undone": "Undone",
    "counted": "Counted",
    None: "Pending…",
}


def sxxeyy(season: int | None, episode: int | None) -> str:
    if season is None and episode is None:
        return ""
    s = f"S{season:02d}" if season is not None else "S??"
    e = f"E{episode:02d}" if episode is not None else "E??"
    return s + e


def plex_item(row: ScrobbleRow) -> str:
    """What Plex played, as a person names it: the show, or a movie with its year ("Heat (1995)")."""
    title = row.plex_title or ""
    if row.kind == "movie" and title and row.plex_year:
        return f"{title} ({row.plex_year})"
    return title


def episode_code(row: ScrobbleRow) -> str:
    """``S01E02`` for an episode, ``Movie`` for a movie."""
    return "Movie" if row.kind == "movie" else sxxeyy(row.season, row.episode)


def local_time(value: str | datetime | None, now: datetime | None = None) -> str:
    """Local time: ``14:05`` today, else ``12 Mar 14:05`` (``2023-03-12 14:05`` other years)."""
    when = parse_utc(value)
    if when is None:
        return ""
    local = when.astimezone()
    now_local = (now or datetime.now(UTC)).astimezone()
    if local.date() == now_local.date():
        return local.strftime("%H:%M:%S")
    if local.year == now_local.year:
        return local.strftime("%d %b %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def outcome_text(row: ScrobbleRow | Outcome) -> str:
    """``Marked``, ``Ignored: music is not tracked``, ``Failed: …``."""
    action = row.action
    word = OUTCOME_WORDS.get(action, str(action).capitalize())
    if action in ("ignored", "failed", "duplicate", "conflict", "rewatch") and row.reason:
        return f"{word}: {row.reason}"
    return word


_DELIVERY_MARKS = {DeliveryState.DELIVERED: "✓", DeliveryState.PENDING: "waiting",
                   DeliveryState.FAILED: "failed"}


def delivered_text(row: ScrobbleRow) -> str:
    """Where an event went: ``Built-in ✓ · Web tracker ✓`` (``waiting``, ``failed``)."""
    parts = ["Built-in ✓"] if row.action in (Action.MARKED, Action.REWATCH) else []
    parts += [f"{m.destination} {_DELIVERY_MARKS[m.state]}" for m in row.deliveries]
    if row.reason and ROUTED_NOWHERE in row.reason:  # (said on the row when it was settled)
        parts.append("routed nowhere")
    return " · ".join(parts)


def delivered_detail(row: ScrobbleRow) -> str:
    """The tooltip: each delivery that failed or waits, with why."""
    lines = [f"{m.destination}: {m.state.value}" + (f" ({m.detail})" if m.detail else "") for m in row.deliveries]
    if row.reason and ROUTED_NOWHERE in row.reason:
        lines.append(next(p for p in row.reason.split("; ") if ROUTED_NOWHERE in p))
    return "\n".join(lines)


def confidence_text(row: ScrobbleRow) -> str:
    """How the show was matched: ``100 % · ids``; empty when nothing matched."""
    conf, method = row.confidence, row.match_method
    if conf is None and not method:
        return ""
    pct = f"{conf:.0%}" if conf is not None else "?"
    return f"{pct} · {METHOD_WORDS.get(method, method)}" if method else pct


METHOD_WORDS = {
    "ids": "ids",
    "exact_title": "exact title",
    "title": "similar title",
    "mapping": "remembered",
    "user": "your choice",
    "created": "created",
    "added": "added from Plex's ids",
}


ID_LABELS = (("tmdb_id", "TMDB"), ("tvdb_id", "TVDB"), ("imdb_id", "IMDb"), ("anidb_id", "AniDB"))


def ids_text(show: ShowRow) -> str:
    """``TMDB 1396 · IMDb tt0903747``: the ids a show is matched by."""
    return " · ".join(f"{label} {v}" for name, label in ID_LABELS if (v := getattr(show, name)))


def show_with_year(title: str | None, year: int | None) -> str:
    return f"{title or '?'} ({year})" if year else (title or "?")


def plex_text(st: PlexStatus) -> str:
    """The Plex account in a line: who, and what became of the webhook URL."""
    if not st.signed_in:
        return f"Not signed in: {st.problem}" if st.problem else "Not signed in"
    who = f"Signed in as {st.username}" if st.username else "Signed in"
    if st.live:
        who += f"; following live sessions on {', '.join(st.live)} (no webhooks needed)"
    caught = st.caught_up
    if caught and caught.added:
        who += f"; caught up {caught.added} play{'s' if caught.added != 1 else ''} from while Scrobble Tray was off"
    if caught and caught.marks_added:
        who += f"; {caught.marks_added} marked in Plex by hand"
    if st.problem:
        return f"{who}; {st.problem}"
    if st.registered:
        return f"{who}; {st.note or 'the webhook URL is registered'}".rstrip(".")
    if st.registered is False:
        return f"{who}; the webhook URL is not registered in Plex"
    return who
