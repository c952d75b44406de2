"""The ngrok tunnel (Qt-free), in three parts:

* :mod:`~app.core.tunnel.supervisor`: :class:`TunnelManager`, its states and statuses,
  reconnecting with back-off, the watchdog;
* :mod:`~app.core.tunnel.agent`: the ngrok agent itself through pyngrok (download,
  ``ngrok.yml``, launch, kill, orphans), with pyngrok's sharp edges;
* :mod:`~app.core.tunnel.errors`: ngrok's errors turned into a reason and a fix.

The rest of the app imports from here.
"""

from app.core.tunnel.agent import PIDFILE_NAME, TUNNEL_NAME, pid_alive
from app.core.tunnel.errors import AUTHTOKEN_URL, DOMAINS_URL, DOWNLOAD_URL
from app.core.tunnel.supervisor import TunnelConfig, TunnelManager, TunnelStatus
from app.core.types import TunnelState

__all__ = [
    "AUTHTOKEN_URL",
    "DOMAINS_URL",
    "DOWNLOAD_URL",
    "PIDFILE_NAME",
    "TUNNEL_NAME",
    "TunnelConfig",
    "TunnelManager",
    "TunnelState",
    "TunnelStatus",
    "pid_alive",
]
