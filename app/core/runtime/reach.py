"""How Plex reaches the app: its webhook URLs, the ngrok tunnel, and what a new public
URL sets off (registering it in Plex, or telling the user to)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from app.core import config
from app.core.credentials import get_authtoken, set_authtoken
from app.core.logs import add_secret
from app.core.runtime.parts import Parts
from app.core.state_keys import StateKey
from app.core.types import TunnelState
from app.core.urls import labelled_urls, local_base, webhook_url

if TYPE_CHECKING:
    from app.core.tunnel import TunnelManager, TunnelStatus

log = logging.getLogger(__name__)


class Reach(Parts):
    """The tunnel and the URLs; a part of :class:`app.core.runtime.Runtime`."""

    _tunnel: TunnelManager | None
    _tunnel_start: asyncio.Task[None] | None
    _tunnel_options: dict[str, Any]
    _known_url: str | None
    _authtoken: str | None

    @property
    def local_webhook_url(self) -> str | None:
        """The webhook URL on this machine (for a Plex server on the same host)."""
        port = self._status.port
        return None if port is None else webhook_url(local_base(self._status.host, port), self._secret)

    @property
    def public_webhook_url(self) -> str | None:
        """The webhook URL through the tunnel, while it is online."""
        url = self._status.public_url
        return webhook_url(url, self._secret) if url and self._status.tunnel == TunnelState.ONLINE else None

    def webhook_urls(self) -> list[tuple[str, str]]:
        """Labelled URLs to paste into Plex, best first."""
        public = self._status.public_url if self._status.tunnel == TunnelState.ONLINE else None
        return labelled_urls(self._secret, self._status.host, self._status.port, public)

    def best_webhook_url(self) -> str | None:
        """The one URL to paste into Plex."""
        urls = self.webhook_urls()
        return urls[0][1] if urls else None

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, reports or screenshots."""
        return [s for s in (self._secret, self.authtoken(), self.plex.token) if s]

    def tunnel_wanted(self) -> bool:
        """The tunnel setting; unset means on once an authtoken is known."""
        enabled = self.settings.tunnel_enabled
        return bool(self.authtoken()) if enabled is None else enabled

    async def start_tunnel(self) -> None:
        """Open the ngrok tunnel to a port that serves the webhook route only."""
        from app.core.tunnel import TunnelConfig, TunnelManager  # (pyngrok: loaded when a tunnel is wanted)

        assert self.server is not None
        await self.stop_tunnel()
        port = await self.server.add_forwarded_site()
        token = self.authtoken()
        self._known_url = config.load_state(self.paths).get(StateKey.PUBLIC_URL)
        cfg = TunnelConfig(authtoken=token, domain=self.settings.ngrok_domain,
                           region=self.settings.ngrok_region, ngrok_path=self.settings.ngrok_path,
                           config_dir=self.paths.data_dir / "ngrok", previous_url=self._known_url)
        self._tunnel = TunnelManager(cfg, port, self._on_tunnel, **self._tunnel_options)
        self._tunnel_start = asyncio.create_task(self._tunnel.start(), name="tunnel-start")

    async def wait_tunnel(self) -> None:
        """Wait until the tunnel is online, failed, or retrying (no-op when off)."""
        if self._tunnel_start is not None:
            await asyncio.shield(self._tunnel_start)

    async def stop_tunnel(self) -> None:
        """Close the tunnel; no agent process is left behind."""
        tunnel, self._tunnel = self._tunnel, None
        if tunnel is not None:
            await tunnel.stop()
        self._tunnel_start = None

    def _on_tunnel(self, st: TunnelStatus) -> None:
        online = st.state is TunnelState.ONLINE
        if st.state in (TunnelState.RECONNECTING, TunnelState.ERROR):
            self._tunnel_lost = True
        elif online and self._tunnel_lost:
            self._tunnel_lost = False
            self.catch_up.soon()  # what Plex sent meanwhile went nowhere
        # The very first public URL is news, not a change: Plex has no URL to replace yet.
        changed = online and st.url_changed and self._known_url is not None
        if online:
            self._known_url = st.public_url
        automatic = self.plex.connected and self.settings.plex_auto_register
        if changed and not automatic:
            log.warning("The public webhook URL is now %s/webhook/...: update it in Plex "
                        "(Settings > Webhooks).", st.public_url)
        if online and automatic:
            if changed:
                log.info("The public webhook URL is now %s/webhook/...: registering it in Plex", st.public_url)
            self._later(self._register_automatically(changed))
        if online != (self._status.tunnel == TunnelState.ONLINE) or changed:
            # Lets 'scrobbletray webhook-url' print the running app's URL.
            config.save_state(self.paths, tunnel_online=online,
                              **({"public_url": st.public_url} if online else {}))
        self._set_status(tunnel=st.state, public_url=st.public_url, tunnel_reason=st.reason,
                         tunnel_fix=st.fix, tunnel_progress=st.progress,
                         url_changed=(changed and not automatic) or (self._status.url_changed and not online))

    async def _register_automatically(self, changed: bool = False) -> None:
        """Register the current URL; if that fails after a change, the user is told to."""
        url = self.public_webhook_url
        if url and await self.plex.url_changed(url, self._secret):
            self._set_status(url_changed=False)
        elif changed:
            self._set_status(url_changed=True)

    async def set_authtoken(self, token: str | None) -> str:
        """Save (or forget) the ngrok authtoken and open or close the tunnel to match.

        Returns where the token was kept (the keyring, or a private file).
        """
        # The keyring may block on a D-Bus call: keep it off the loop.
        where = await asyncio.get_running_loop().run_in_executor(None, set_authtoken, self.paths, token)
        self._authtoken = await asyncio.get_running_loop().run_in_executor(None, get_authtoken, self.paths)
        add_secret(self._authtoken)
        if self.server is not None:
            await (self.start_tunnel() if self.tunnel_wanted() else self.stop_tunnel())
        return where

    def authtoken(self) -> str | None:
        """The ngrok authtoken, as read at start (or last set): no keyring call here,
        since the status window asks on every status change."""
        return self._authtoken
