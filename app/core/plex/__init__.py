"""Plex itself: the account (sign-in, webhooks, servers) and the servers (show ids).

python-plexapi does the talking; its calls block, so :mod:`.service` runs them on a
thread and is what the core uses. ``SCROBBLETRAY_PLEX_TV_URL`` (or the ``plex_tv_url``
setting) points everything meant for plex.tv at a stand-in, as the tests do.
"""
