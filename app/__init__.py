"""Scrobble Tray: Plex webhooks in, episodes marked watched in your tracker."""

__version__ = "0.1.0"
