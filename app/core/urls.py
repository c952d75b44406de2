"""The one place webhook URLs are built: for this computer, the local network, the tunnel."""

from __future__ import annotations

import contextlib
import socket

WEBHOOK_PATH = "/webhook/{secret}"
ANY_HOST = ("0.0.0.0", "::", "")


def webhook_url(base: str, secret: str) -> str:
    """The webhook URL under ``base`` (``http://host:port`` or a public tunnel URL)."""
    return base.rstrip("/") + WEBHOOK_PATH.format(secret=secret)


def http_base(host: str, port: int | str) -> str:
    """``http://host:port``, an IPv6 address in brackets (``http://[::1]:47810``)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def local_base(host: str | None, port: int) -> str:
    """``http://host:port`` for this computer (a wildcard host becomes 127.0.0.1)."""
    return http_base("127.0.0.1" if not host or host in ANY_HOST else host, port)


# A documentation address (TEST-NET-2): never a real host, but routed like the internet.
_ROUTE_PROBE = ("198.51.100.1", 9)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses on the local network, the default route's first.

    The routing table answers first: "connecting" a UDP socket sends no packet but picks
    the address this machine would send from. The hostname's addresses follow, since on
    many Linux systems the hostname resolves to 127.0.1.1 only.
    """
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
            found.append(probe.getsockname()[0])
        except OSError:  # no route at all: offline
            pass
    with contextlib.suppress(OSError):
        found += [str(i[4][0]) for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    return [a for a in dict.fromkeys(found) if not a.startswith(("127.", "0."))]


def labelled_urls(secret: str, host: str | None, port: int | None,
                  public_url: str | None = None) -> list[tuple[str, str]]:
    """Labelled URLs to paste into Plex, best first."""
    urls = []
    if public_url:
        urls.append(("Public (ngrok tunnel)", webhook_url(public_url, secret)))
    if port is not None:
        if host in ANY_HOST:
            urls += [("Local network", webhook_url(http_base(ip, port), secret)) for ip in lan_addresses()]
        urls.append(("This computer only", webhook_url(local_base(host, port), secret)))
    return urls
