"""The ngrok tunnel (Qt-free); split into modules in the next commit."""

from app.core.tunnel.supervisor import TunnelConfig, TunnelManager, TunnelState, TunnelStatus, pid_alive

__all__ = ["TunnelConfig", "TunnelManager", "TunnelState", "TunnelStatus", "pid_alive"]
