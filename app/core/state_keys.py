"""The keys of ``state.json``, declared once: runtime state kept across starts (not
preferences, which are :class:`app.core.config.Settings`). ``save_state`` refuses any other."""

from __future__ import annotations

from enum import StrEnum


class StateKey(StrEnum):
    INSTALL_ID = "install_id"  # tells our events apart in a shared tracker
    LISTENING = "listening"  # {"host", "port"} of the running app, or None
    TUNNEL_ONLINE = "tunnel_online"  # whether the running app's tunnel is online
    PUBLIC_URL = "public_url"  # the last public URL (Plex was given it)
    SETUP_OFFERED = "setup_offered"  # the first-run set-up was shown once
    PLEX_HISTORY_SEEN = "plex_history_seen"  # server uuid -> unix time of the newest play seen
    PLEX_MARKS_SEEN = "plex_marks_seen"  # server uuid -> unix time of the newest lastViewedAt seen
    PLEX_WEBHOOK_HOSTS = "plex_webhook_hosts"  # hosts our webhook URL was registered under
    DESTINATIONS_PAUSED = "destinations_paused"  # id -> {"reason", "fix", "since"}: paused until Retry
