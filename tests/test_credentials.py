"""Secrets: kept in a working keyring (a real backend class, held in memory), else a
private file; a key the keyring does not hold is not asked for again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from app.core.config import APP_SLUG, Paths
from app.core.credentials import get_secret, set_secret

REPO = Path(__file__).resolve().parents[1]


class MemoryKeyring(KeyringBackend):
    """A working keyring backend, as the OS's would be, that counts its look-ups."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}
        self.lookups = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.lookups += 1
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


@pytest.fixture
def memory_keyring():
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


def test_a_secret_saved_in_the_keyring_is_read_back_and_forgotten(paths: Paths, memory_keyring) -> None:
    assert set_secret(paths, "plex-token", "tok-123") == "the system keyring"
    assert memory_keyring.values == {(APP_SLUG, "plex-token"): "tok-123"}
    assert get_secret(paths, "plex-token") == "tok-123"
    assert "tok-123" not in (paths.data_dir / "keyring.json").read_text()  # names only
    set_secret(paths, "plex-token", None)
    assert get_secret(paths, "plex-token") is None and not memory_keyring.values


def test_a_key_the_keyring_does_not_hold_is_asked_once(paths: Paths, memory_keyring) -> None:
    assert get_secret(paths, "ngrok-authtoken") is None
    assert get_secret(paths, "ngrok-authtoken") is None
    assert memory_keyring.lookups == 1


def test_a_secret_an_older_version_put_in_the_keyring_is_found(paths: Paths, memory_keyring) -> None:
    memory_keyring.values[(APP_SLUG, "ngrok-authtoken")] = "2abc"  # no keyring.json yet
    assert get_secret(paths, "ngrok-authtoken") == "2abc"
    assert get_secret(paths, "ngrok-authtoken") == "2abc"


def test_without_a_keyring_the_private_file_is_used(paths: Paths) -> None:  # the tests' "fail" backend
    assert set_secret(paths, "plex-token", "tok-9") == "a private file in the data folder"
    assert get_secret(paths, "plex-token") == "tok-9"
    assert (paths.data_dir / "plex-token").stat().st_mode & 0o077 == 0


def test_a_start_with_no_secrets_saved_never_loads_the_keyring(tmp_path: Path) -> None:
    code = ("import sys; from app.core.config import Paths; from app.core.credentials import get_secret;"
            f"p = Paths({str(tmp_path)!r}); get_secret(p, 'plex-token'); get_secret(p, 'ngrok-authtoken');"
            "print('keyring' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False")
