"""The self-test's checks that need no running core: the modules, the files and the native
libraries a build must carry. Each returns its detail, or ``(None, detail, "warn")``."""

from __future__ import annotations

import importlib
import os
import ssl
import sys

from app.selftest.report import StepFailed


async def check_core() -> str:
    """Import the core the way the app does: a frozen build shows missing modules here."""
    for name in ("app.core.facade", "aiohttp", "sqlalchemy", "alembic", "rapidfuzz", "yaml",
                 "pyngrok.installer", "keyring", "platformdirs"):
        importlib.import_module(name)
    import aiohttp
    import alembic
    import sqlalchemy

    return f"aiohttp {aiohttp.__version__}, SQLAlchemy {sqlalchemy.__version__}, alembic {alembic.__version__}"


async def check_migrations() -> str:
    """The alembic scripts are files read at run time: they must be in the bundle."""
    from alembic.script import ScriptDirectory

    from app.core.db import MIGRATIONS

    if not (MIGRATIONS / "env.py").is_file():
        raise StepFailed(f"migration scripts not found in {MIGRATIONS}")
    scripts = ScriptDirectory(str(MIGRATIONS))
    revisions = list(scripts.walk_revisions())
    return f"{len(revisions)} revisions, head {scripts.get_current_head()}, in {MIGRATIONS}"


async def check_resources() -> tuple[None, str, str] | str:
    """The icons the tray and the windows draw, where app.resources finds them."""
    from app.resources import resource_path

    icons = resource_path("icons")
    found = sorted(icons.glob("*.svg")) if icons.is_dir() else []
    if not found:
        raise StepFailed(f"no icons in {icons}: this installation is missing app/resources/icons")
    return f"{len(found)} icons in {icons}"


async def check_rapidfuzz() -> tuple[None, str, str]:
    """The fuzzy matcher's compiled extension (not the slow pure-Python fallback)."""
    from rapidfuzz import fuzz
    from rapidfuzz.fuzz import ratio

    score = fuzz.token_sort_ratio("Bad Breaking", "Breaking Bad")
    if score != 100:
        raise StepFailed(f"fuzzy score {score:.0f} for the same words in another order, not 100")
    impl = getattr(ratio, "__module__", "") or ""
    kind = "pure Python fallback" if impl.endswith("_py") else "compiled"
    return (None, f"{kind} ({impl})", "warn" if kind != "compiled" else "ok")


async def check_keyring() -> tuple[None, str, str] | str:
    """keyring finds its backends through entry points: the metadata must be bundled.

    Only the backend is loaded; no password is read or written.
    """
    from importlib.metadata import entry_points

    import keyring

    names = sorted(ep.name for ep in entry_points(group="keyring.backends"))
    if not names:
        raise StepFailed("no keyring backends registered (keyring's package metadata is missing)")
    backend = keyring.get_keyring()
    detail = f"{len(names)} backends registered; in use: {backend.__class__.__module__}.{backend.__class__.__name__}"
    if backend.__class__.__module__.endswith(".fail"):
        return (None, detail + " (no keyring here: the authtoken would go to a private file)", "warn")
    return detail


async def check_tls() -> tuple[None, str, str] | str:
    """CA certificates for HTTPS (the first download of the ngrok agent needs them)."""
    paths = ssl.get_default_verify_paths()
    file = os.environ.get("SSL_CERT_FILE") or paths.cafile
    folder = os.environ.get("SSL_CERT_DIR") or paths.capath
    ctx = ssl.create_default_context()
    loaded = ctx.cert_store_stats().get("x509_ca", 0)
    if loaded or (file and os.path.isfile(file)):
        return f"{ssl.OPENSSL_VERSION}; {loaded} CA certificates from {file}"
    if folder and os.path.isdir(folder) and any(os.scandir(folder)):
        return f"{ssl.OPENSSL_VERSION}; CA certificates in {folder}"
    if sys.platform == "win32":  # Python reads the Windows certificate store instead
        return f"{ssl.OPENSSL_VERSION}; Windows certificate store"
    looked = os.environ.get("SSL_CERT_FILE") or paths.openssl_cafile
    return (None, f"no CA certificates found (looked in {looked} and {paths.openssl_capath}): the "
                  f"ngrok agent cannot be downloaded; give its path with --ngrok-path", "warn")


async def check_ngrok_installer() -> str:
    """pyngrok's installer runs in this build: platform detected, download URL known.

    Nothing is downloaded (the self-test stays offline).
    """
    from pyngrok import installer

    return f"agent {installer.get_ngrok_bin()} from {installer.get_ngrok_cdn_url('3')} (not downloaded)"


async def check_postgres_driver() -> tuple[None, str, str] | str:
    """The optional PostgreSQL driver (for a PostgreSQL tracker): psycopg with its libpq."""
    try:
        import psycopg
        import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401 (the dialect SQLAlchemy loads by name)
    except ImportError:
        return (None, "not installed: a PostgreSQL tracker needs pip install 'scrobbletray[postgres]'", "warn")
    libpq = psycopg.pq.version()
    return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), libpq {libpq // 10000}.{libpq % 100}"


async def check_plexapi() -> str:
    """python-plexapi (sign in with Plex) loads, with our headers; nothing is sent."""
    import plexapi
    from plexapi.myplex import MyPlexPinLogin  # noqa: F401

    from app.core.plex.http import Identity

    Identity("self-test").apply()
    return f"python-plexapi {plexapi.VERSION}, as {plexapi.BASE_HEADERS['X-Plex-Product']}"
