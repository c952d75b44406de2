"""Render every window of the tray app offscreen, with sample data, to resources/screenshots/.

    python tests/bench/screenshots.py [--out resources/screenshots] [--only online]

A real core on a temporary data folder gets a few shows and real webhooks over HTTP
(marked, duplicate, ignored, a conflict); then the real widgets are shown and grabbed
with ``QWidget.grab()``. Every text the windows show is checked for secrets first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the real keyring

import qasync  # noqa: E402
from PySide6.QtCore import QPoint, QSize  # noqa: E402
from PySide6.QtGui import QColor, QPainter, QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app.core.config import Paths, Settings  # noqa: E402
from app.core.db import open_database  # noqa: E402
from app.core.destinations.sender import Timing  # noqa: E402
from app.core.facade import Core  # noqa: E402
from app.present.state import TrayState  # noqa: E402
from app.ui import icons  # noqa: E402
from app.ui.autostart import Autostart  # noqa: E402
from app.ui.controller import UiController  # noqa: E402
from tests.bench.screenshots_online import online  # noqa: E402
from tests.fake_tracker import FakeTracker  # noqa: E402
from tests.helpers import BREAKING_BAD, NGROK_TOKEN, disk_full, episode_payload, post, sample, write_agent  # noqa: E402
from tests.pg import PgServer  # noqa: E402
from tests.pg_schema import create_reference_schema, seed_reference_data  # noqa: E402
from tests.ui.texts import shown_texts  # noqa: E402

SHOWS = [
    BREAKING_BAD,
    {"title": "Severance", "year": 2022, "tmdb_id": 95396},
    {"title": "The Office", "year": 2005, "tmdb_id": 2316},
    {"title": "Doctor Who", "year": 2005, "tmdb_id": 57243},
    {"title": "The Unknown", "year": 2019},
    {"title": "Unknown Worlds", "year": 2011},
]


async def until(condition: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("window did not finish loading")
        await asyncio.sleep(0.02)


def save(widget: QWidget, name: str, out: Path, secrets: list[str]) -> Path:
    shown = "\n".join(shown_texts(widget))
    leaked = [s for s in secrets if s and s in shown]
    if leaked:
        raise SystemExit(f"{name}: a secret is visible in the window")
    path = out / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise SystemExit(f"cannot write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def tray_icons_strip(out: Path) -> None:
    """The tray icon in its four states at tray sizes, on light and dark panels."""
    sizes = (16, 22, 32, 64)
    states = [TrayState.OK, TrayState.ATTENTION, TrayState.ERROR, TrayState.PAUSED]
    cell = 76
    strip = QPixmap(cell * len(states), cell * 2)
    strip.fill(QColor("#f1f3f5"))
    p = QPainter(strip)
    p.fillRect(0, cell, strip.width(), cell, QColor("#2b2d31"))
    for row in range(2):
        for i, state in enumerate(states):
            x = i * cell + 4
            for size in sizes[:3]:
                p.drawPixmap(x, row * cell + 6, icons.tray_icon(state).pixmap(QSize(size, size)))
                x += size + 2
            p.drawPixmap(i * cell + 6, row * cell + 6 + 32 + 2,
                         icons.tray_icon(state).pixmap(QSize(36, 36)))
    p.end()
    strip.save(str(out / "tray-icons.png"))
    print(f"wrote {out / 'tray-icons.png'}")


def free_port(preferred: int = 47810) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return 0


async def render(out: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="scrobbletray-shots-"))
    core = Core(Paths(data / "data"), Settings(port=free_port(), rate_limit_per_minute=0))
    await core.start()
    assert core.runtime.store is not None
    await core.runtime.run(core.runtime.store.import_shows, SHOWS)
    ui = UiController(core, tray_available=True,
                      autostart=Autostart(data / "autostart.desktop", command=["scrobbletray"], supported=True))
    url = core.best_webhook_url()
    assert url
    out.mkdir(parents=True, exist_ok=True)
    first = ui.show_status()  # first start: Plex may be anywhere, and only this computer can reach it
    first.refresh()
    await until(lambda: first.counts is not None and first.headline.text() == "Only this computer can reach it")
    save(first, "status-first-start", out, core.secrets())
    for payload in (
        episode_payload(1, 1, episode_title="Pilot") | {},
        episode_payload(1, 2),
        episode_payload(1, 1),  # the same play again: duplicate
        sample("scrobble-movie"),
        sample("scrobble-shared-user"),
        sample("play-new-agent-episode"),
        sample("scrobble-unknown-show"),
        episode_payload(1, 3),
    ):
        status, body = await post(url, payload)
        assert status == 200, body
    await until(lambda: core.status.conflicts_open == 1)
    await until(lambda: core.webhook_stats().accepted >= 8)

    secrets = core.secrets()
    out.mkdir(parents=True, exist_ok=True)

    status = ui.show_status()
    status.refresh()
    await until(lambda: status.counts is not None and status.counts.scrobbles_24h >= 3)
    save(status, "status", out, secrets)

    conflicts = ui.show_conflicts()
    await until(lambda: conflicts.current is not None and conflicts.waiting.count() > 0)
    conflicts.search.setText("unknown")
    await until(lambda: "matching" in conflicts.candidates_label.text()
                and conflicts.candidates.topLevelItem(0).text(3) != "")
    save(conflicts, "conflicts", out, secrets)

    tracker = ui.show_tracker()
    await until(lambda: len(tracker.shows) >= 3)
    tracker.select_show(next(s.id for s in tracker.shows if s.title == "Breaking Bad"))
    await until(lambda: tracker.episodes.topLevelItemCount() == 1)
    tracker.episodes.topLevelItem(0).child(0).setExpanded(True)
    save(tracker, "tracker", out, secrets)
    dialog = tracker.edit_show()
    assert dialog is not None
    save(dialog, "tracker-edit", out, secrets)
    dialog.reject()
    for title, year, tmdb, imdb in (("Inception", 2010, 27205, "tt1375666"), ("Dune", 1984, 841, "tt0087182"),
                                    ("Dune", 2021, 438631, "tt1160419"), ("Arrival", 2016, 329865, "tt2543164")):
        await core.add_movie(title=title, year=year, tmdb_id=tmdb, imdb_id=imdb)
    tracker.tabs.setCurrentWidget(tracker.movies)
    tracker.movies.refresh()
    await until(lambda: len(tracker.movies.movies) >= 4)
    save(tracker, "tracker-movies", out, secrets)
    tracker.tabs.setCurrentIndex(0)
    tracker.close()

    settings = ui.show_settings()
    settings.general.port.setText("47811")  # an edit in progress: Save enabled
    settings.general.domain.setText("not a domain!")  # and an inline error
    settings.adjustSize()
    settings.resize(max(settings.width(), 680), max(settings.sizeHint().height(), 730))
    save(settings, "settings", out, secrets)
    settings.load()

    await destinations(core, ui, out, secrets)

    assert ui.tray is not None
    menu = ui.tray.menu
    menu.popup(QPoint(0, 0))
    await until(menu.isVisible)
    save(menu, "tray-menu", out, secrets)
    menu.close()
    tray_icons_strip(out)

    # First-run set-up: where Plex runs, the local network's address, the tunnel page.
    wizard = ui.show_setup()
    save(wizard, "setup-where", out, secrets)
    for button in wizard.where_page.group.buttons():
        button.setChecked(button.property("where") == "network")
    wizard.next()
    save(wizard, "setup-network", out, secrets)
    wizard.back()
    for button in wizard.where_page.group.buttons():
        button.setChecked(button.property("where") == "elsewhere")
    wizard.next()
    wizard.tunnel_page.token.setText(NGROK_TOKEN)
    save(wizard, "setup-tunnel", out, [*secrets, NGROK_TOKEN])
    wizard.close()

    # The tunnel online with a static domain, through the tests' stand-in ngrok agent.
    tunnelled = dataclasses.replace(core.settings, ngrok_path=str(write_agent(data / "ngrok")),
                                    ngrok_domain="scrobble-demo.ngrok-free.dev")
    await core.apply_settings(tunnelled)
    await core.set_authtoken(NGROK_TOKEN)
    await core.wait_tunnel()
    await until(lambda: core.status.tunnel == "online")
    status = ui.show_status()
    status.refresh()
    await until(lambda: "ngrok-free.dev" in "\n".join(shown_texts(status)))
    save(status, "status-tunnel", out, core.secrets())

    wizard = ui.show_setup()  # the last step, the tunnel up: the URL, and the first webhook arriving
    for button in wizard.where_page.group.buttons():
        button.setChecked(button.property("where") == "elsewhere")
    wizard.next()
    wizard.next()
    await until(lambda: wizard.url_page.url.url == core.public_webhook_url)
    status_code, _ = await post(core.webhook_urls()[-1][1], episode_payload(1, 4))  # (the local URL)
    assert status_code == 200
    await until(lambda: "arrived" in wizard.url_page.waiting.text())
    save(wizard, "setup-done", out, core.secrets())
    wizard.close()
    await plex(core, ui, out)

    # A second copy on a port already taken: the headline says which port and what to do.
    other = Core(Paths(data / "other"), Settings(port=core.status.port, plex_location="this"))
    with contextlib.suppress(OSError):  # (the status says why)
        await other.start()
    other_ui = UiController(other, tray_available=True,
                            autostart=Autostart(data / "other.desktop", command=["scrobbletray"], supported=True))
    taken = other_ui.show_status()
    taken.refresh()
    await until(lambda: "in use" in taken.headline.text() or "in use" in "\n".join(shown_texts(taken)))
    taken.resize(700, taken.height())
    await asyncio.sleep(0.1)
    save(taken, "status-port-in-use", out, other.secrets())
    other_ui.close()
    await other.stop()
    await database_trouble(core, ui, data, out)

    ui.close()
    await core.stop()


async def database_trouble(core: Core, ui: UiController, data: Path, out: Path) -> None:
    """The disk full (webhooks held, the fix), and a damaged file moved aside at start."""
    assert core.runtime.store is not None
    make_room = disk_full(core.runtime.store.sessions.kw["bind"])
    for episode in (5, 6):
        status_code, _ = await post(core.webhook_urls()[-1][1], episode_payload(1, episode, summary="x" * 20_000))
        assert status_code == 503
    status = ui.show_status()
    await until(lambda: status.headline.text() == "The disk holding the database is full"
                and "2 refused" in status.last_webhook.text())
    save(status, "status-disk-full", out, core.secrets())
    make_room()
    await until(lambda: core.status.database_problem is None)

    damaged = Paths(data / "damaged")
    open_database(f"sqlite:///{damaged.database_file}", damaged.backups_dir).kw["bind"].dispose()
    good = damaged.database_file.read_bytes()
    damaged.database_file.write_bytes(good[:100] + b"\xde\xad" * 500 + good[1100:])
    other = Core(damaged, Settings(port=0, plex_location="this"))
    await other.start()
    other_ui = UiController(other, tray_available=True,
                            autostart=Autostart(data / "damaged.desktop", command=["scrobbletray"], supported=True))
    moved = other_ui.show_status()
    moved.resize(700, moved.height())
    await asyncio.sleep(0.1)
    save(moved, "status-damaged", out, other.secrets())
    other_ui.close()
    await other.stop()


async def plex(core: Core, ui: UiController, out: Path) -> None:
    """Settings → Plex: waiting for Plex's page, then signed in with the URL registered."""
    from tests.fake_plex import FakePlexTv, FakePms

    async with FakePlexTv() as tv, FakePms(name="Seedbox") as pms:
        tv.servers.append(pms)
        token, user = tv.add_user("alice", webhooks=["https://hooks.example.org/sonarr",
                                                     "https://scrobble-demo.ngrok-free.dev/webhook/old"])
        await core.apply_settings(dataclasses.replace(core.settings, plex_tv_url=tv.url))
        settings = ui.show_settings()
        page = settings.show_plex()
        page.open_url = lambda url: None
        save(settings, "settings-plex-signed-out", out, [*core.secrets(), token])
        page.start_sign_in()
        await until(lambda: page.signing_in and page.cancel.isVisible())
        save(settings, "settings-plex-signing-in", out, [*core.secrets(), token])
        tv.approve(token)
        await until(lambda: core.status.plex.registered and bool(page.banner.text))
        assert user.webhooks[0] == "https://hooks.example.org/sonarr" and len(user.webhooks) == 2
        save(settings, "settings-plex", out, [*core.secrets(), token])
        import time

        show = pms.add_show("100", "Breaking Bad", 2008, tmdb="1396")
        for n in range(4, 9):  # watched on the seedbox while the laptop was away
            pms.play(f"40{n}", show, 1, n, viewed_at=time.time() - 3 * 86_400 + n * 3600)
        await page.import_history()
        save(settings, "settings-plex-history", out, [*core.secrets(), token])
        await core.runtime.plex.sign_out()
        settings.show_general()
        settings.close()


async def destinations(core: Core, ui: UiController, out: Path, secrets: list[str]) -> None:
    """Two relay targets: one healthy, one whose tracker is not running."""
    healthy, down = FakeTracker(secret="ab" * 32, limit=0), FakeTracker(secret="ef" * 32, limit=0)
    await healthy.start()
    await down.start()
    down.mode = "refuse"
    core.runtime.timing = Timing(timeout=2.0, backoff_base=5.0, backoff_cap=300.0)
    await core.add_relay(healthy.url, label="Episode tracker")
    await core.add_relay(down.url, only_watched=True, label="Backup tracker")
    pg = PgServer.launch()  # and the tracker's own database, beside them
    pg.admin(f'CREATE DATABASE tracker OWNER {pg.user}')
    with pg.connect("tracker", user=pg.user) as conn:
        create_reference_schema(conn)
        seed_reference_data(conn)
        conn.commit()
    await core.add_postgres(pg.url("tracker"), label="Tracker database")
    secrets = [*secrets, pg.url("tracker").split(":")[2].split("@")[0]]
    secrets = [*secrets, "ab" * 32, "ef" * 32]
    for n in (4, 5):
        status_code, body = await post(core.best_webhook_url() or "", episode_payload(1, n))
        assert status_code == 200, body
    await until(lambda: healthy.accepted and len(healthy.accepted) >= 2)
    status = ui.show_status()
    status.refresh()
    await until(lambda: "Failing since" in "\n".join(shown_texts(status))
                and "\n".join(shown_texts(status)).count("Up to date") >= 2)
    save(status, "status-destinations", out, secrets)

    scrobbles = ui.show_scrobbles()
    scrobbles.resize(1400, 440)
    scrobbles.refresh()
    await until(lambda: scrobbles.model.rowCount() == 10 and not scrobbles.loading
                and "Tracker database ✓" in str(scrobbles.model.index(0, 8).data())
                and "Pending…" not in [scrobbles.model.index(r, 5).data() for r in range(10)])
    scrobbles.select_event(scrobbles.model.row(4).id)
    save(scrobbles, "scrobbles", out, secrets)

    diagnostics = ui.show_diagnostics()  # one row per destination: which hop failed
    diagnostics.run_checks()
    await until(lambda: diagnostics.table.rowCount() > 9 and not diagnostics.running)
    diagnostics.resize(980, 470)
    save(diagnostics, "diagnostics", out, secrets)
    diagnostics.close()

    settings = ui.show_settings()
    page = settings.show_destinations()
    page.refresh()
    await until(lambda: len(page.rows()) == 4)
    page.select("relay-1")
    await page.test("relay-1")
    save(settings, "settings-destinations", out, secrets)
    dialog = page.open_add_dialog()
    dialog.url.setText("localhost:3000/api/plex/webhook")
    await until(lambda: dialog.url_error.isVisible())
    dialog.adjustSize()
    await asyncio.sleep(0.1)
    save(dialog, "settings-destination-add", out, secrets)
    dialog.close()
    # Whose plays go where: the owner's to the episode tracker and the database, Sam's to the backup.
    await core.apply_settings(dataclasses.replace(core.settings, accepted_accounts=["Sam"]))
    await core.route_account("owner", ["relay-1", "postgres-1"])
    await core.route_account("Sam", ["relay-2"])
    settings.load()
    settings.show_general()
    settings.general_scroll.ensureWidgetVisible(settings.general.routes_box, 0, 40)
    await asyncio.sleep(0.1)
    save(settings, "settings-routes", out, secrets)
    settings.close()
    status.close()
    from tests.bench.screenshot_presets import relay_preset
    await relay_preset(ui, out, secrets)  # the add dialog with a tracker chosen by name
    for destination_id in ("relay-1", "relay-2", "postgres-1"):
        await core.remove_destination(destination_id)
    await core.apply_settings(dataclasses.replace(core.settings, accepted_accounts=[], routes={}))
    await healthy.stop()
    await down.stop()
    pg.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshots")
    parser.add_argument("--only", choices=["online"], help="only these: online = Trakt and Simkl")
    parser.add_argument("--also", type=Path, help="where to put the online windows not kept in resources/")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    args.out.mkdir(parents=True, exist_ok=True)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        if args.only is None:
            runner.run(render(args.out))
        runner.run(online(args.out, until, save, port=free_port(), also=args.also))
    return 0


if __name__ == "__main__":
    sys.exit(main())
