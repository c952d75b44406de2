"""The one place webhook URLs are built: for this computer, the local network, the tunnel."""

from __future__ import annotations

import socket

WEBHOOK_PATH = "/webhook/{secret}"
ANY_HOST = ("0.0.0.0", "::", "")


def webhook_url(base: str, secret: str) -> str:
    """The webhook URL under ``base`` (``http://host:port`` or a public tunnel URL)."""
    return base.rstrip("/") + WEBHOOK_PATH.format(secret=secret)


def local_base(host: str | None, port: int) -> str:
    """``http://host:port`` for this computer (a wildcard host becomes 127.0.0.1)."""
    host = "127.0.0.1" if not host or host in ANY_HOST else host
    return f"http://{host}:{port}"


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (no packet is sent)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({str(i[4][0]) for i in infos if not str(i[4][0]).startswith("127.")})


def labelled_urls(secret: str, host: str | None, port: int | None,
                  public_url: str | None = None) -> list[tuple[str, str]]:
    """Labelled URLs to paste into Plex, best first."""
    urls = []
    if public_url:
        urls.append(("Public (ngrok tunnel)", webhook_url(public_url, secret)))
    if port is not None:
        if host in ANY_HOST:
            urls += [("Local network", webhook_url(f"http://{ip}:{port}", secret)) for ip in lan_addresses()]
        urls.append(("This computer only", webhook_url(local_base(host, port), secret)))
    return urls
