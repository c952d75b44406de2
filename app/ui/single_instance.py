"""One running app per data folder: a second launch wakes the first one up and exits."""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
_ACTIVATE = b"activate\n"


def server_name(data_dir: Path) -> str:
    """A local-socket name unique to this user and data folder (temp folders never collide)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "user"
    key = f"{user}\0{Path(data_dir).expanduser().resolve()}".encode()
    return "scrobbletray-" + hashlib.sha256(key).hexdigest()[:20]


class SingleInstance(QObject):
    """The first instance listens on a local socket; later ones send it ``activate``."""

    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server: QLocalServer | None = None

    def notify_running(self, timeout_ms: int = 1000) -> bool:
        """Tell a running instance to show itself; True if there was one."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(_ACTIVATE)
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(timeout_ms)
        return True

    def listen(self) -> bool:
        """Become the instance that others wake; False if the name cannot be taken."""
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            # A crash leaves a stale socket file behind; nobody answered on it (see
            # notify_running), so it is safe to remove.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                log.warning("single-instance server failed: %s", server.errorString())
                return False
        server.newConnection.connect(self._on_connection)
        self._server = server
        return True

    def _on_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self._read_ready)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read_ready(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(_ACTIVATE.strip()):
            self.activated.emit()

    def close(self) -> None:
        """Stop listening (the socket name is freed for the next instance)."""
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None
