"""PyInstaller runtime hook: runs inside the frozen app before any of its own code.

* ``QT_API=pyside6``: qasync picks its Qt binding from ``$QT_API`` and raises ImportError
  when it names another one (users of matplotlib/Spyder often have ``QT_API=pyqt5``
  set). The bundle only contains PySide6, so the choice is made here.
* CA certificates: the bundle carries the build machine's OpenSSL, whose compiled-in
  certificate path (``/usr/lib/ssl`` on Debian) may not exist on the user's system
  (Fedora, openSUSE, Alpine, macOS...), and then every HTTPS request fails, the first
  download of the ngrok agent included. When neither ``SSL_CERT_FILE``/``SSL_CERT_DIR``
  is set nor the default path exists, ``SSL_CERT_FILE`` is pointed at the system's CA
  bundle (the same places Go looks), or at certifi's if it was bundled. Windows is left
  alone: Python reads the Windows certificate store there.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable, Mapping

#: System CA bundles, as Go's crypto/x509 looks for them (Linux distributions, macOS).
CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/pki/tls/cacert.pem",  # OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # CentOS, RHEL 7+
    "/etc/ssl/cert.pem",  # Alpine, macOS
)


def pick_ca_file(env: Mapping[str, str], default_file: str | None, default_dir: str | None,
                 candidates: Iterable[str] = CA_BUNDLES, certifi_file: str | None = None) -> str | None:
    """The file to put in ``SSL_CERT_FILE``, or None when OpenSSL already finds certificates."""
    if env.get("SSL_CERT_FILE") or env.get("SSL_CERT_DIR"):
        return None  # the user's choice
    if default_file and os.path.isfile(default_file):
        return None
    if default_dir and os.path.isdir(default_dir) and any(True for _ in os.scandir(default_dir)):
        return None
    for path in candidates:
        if os.path.isfile(path):
            return path
    return certifi_file if certifi_file and os.path.isfile(certifi_file) else None


def _certifi_file() -> str | None:
    try:
        import certifi  # bundled only if it was installed on the build machine
    except ImportError:
        return None
    return certifi.where()


def _apply() -> None:
    os.environ["QT_API"] = "pyside6"
    if sys.platform == "win32":
        return
    import ssl

    paths = ssl.get_default_verify_paths()
    ca_file = pick_ca_file(os.environ, paths.openssl_cafile, paths.openssl_capath,
                           certifi_file=_certifi_file())
    if ca_file:
        os.environ["SSL_CERT_FILE"] = ca_file


if getattr(sys, "frozen", False):
    _apply()
