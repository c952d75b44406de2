"""What ``settings.json`` keeps of a Trakt or Simkl destination (never a secret), and the
names its secrets are kept under."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.destinations.base import Target


@dataclass
class OnlineTarget(Target):
    """An account on an online tracker that Scrobble Tray marks plays in.

    The client secret (Trakt's) and the tokens are kept with the other secrets
    (:func:`app.core.credentials.get_secret`), under :attr:`tokens_key` and :attr:`secret_key`.
    """

    id: str
    url: str = ""  # the service's site, as shown ("https://trakt.tv"); calls go to its API
    client_id: str = ""  # the API app's id: the user's own, or "" for the one this build carries
    live: bool = False  # show what is playing now (its /scrobble calls) on live play, pause and stop
    enabled: bool = True
    label: str = ""
    account: str = ""  # who signed in, as the service names them (shown; not a secret)

    @property
    def shown(self) -> str:
        """Where it delivers, as shown: the service and who signed in."""
        return self.url + (f" as {self.account}" if self.account else "")

    @property
    def sends(self) -> str:
        """What it is sent (the Destinations list's words): the plays counted as watched, and
        live play, pause and stop when it shows what is playing now."""
        return "Watched plays · now playing" if self.live else "Watched plays"

    @property
    def tokens_key(self) -> str:
        return f"{self.id}-tokens"

    @property
    def secret_key(self) -> str:
        return f"{self.id}-client-secret"


@dataclass
class TraktTarget(OnlineTarget):
    url: str = "https://trakt.tv"
    live: bool = True


@dataclass
class SimklTarget(OnlineTarget):
    url: str = "https://simkl.com"
