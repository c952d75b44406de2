#!/usr/bin/env bash
# Build the standalone app from build.spec and prove that it works (CI runs this after
# the tests). Run it inside the project's virtual environment, from anywhere:
#
#   packaging/build.sh              one-folder build: dist/scrobbletray/scrobbletray
#   SCROBBLETRAY_ONEFILE=1 packaging/build.sh    one-file build: dist/scrobbletray
#
# Steps: install PyInstaller if missing (the project's "build" extra), build clean, run
# the bundle's --self-test with no display, start the tray app offscreen and stop it
# (packaging/smoke-gui.sh), print the size. Any failure fails the script. No network is
# used after the install step.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
started=$(date +%s)

step() { printf '\n== %s\n' "$*"; }

step "PyInstaller"
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    "$PYTHON" -m pip install -q -e '.[build]'
fi
"$PYTHON" -m PyInstaller --version

step "build (build.spec, clean)"
rm -rf dist/scrobbletray  # the one-folder and one-file builds share this name
"$PYTHON" -m PyInstaller --clean --noconfirm --log-level WARN build.spec
if [ "${SCROBBLETRAY_ONEFILE:-}" = 1 ]; then exe=dist/scrobbletray; else exe=dist/scrobbletray/scrobbletray; fi
[ -x "$exe" ] || { echo "error: the build made no $exe" >&2; exit 1; }
built=$(date +%s)

step "self-test (no display, no Qt platform set)"
env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$exe" --self-test

step "GUI smoke test (offscreen)"
packaging/smoke-gui.sh "$exe"

step "size"
if [ -d dist/scrobbletray ]; then
    echo "dist/scrobbletray/: $(du -sh dist/scrobbletray | cut -f1), $(find dist/scrobbletray -type f | wc -l) files"
else
    echo "dist/scrobbletray: $(du -sh dist/scrobbletray | cut -f1) (one file)"
fi
echo "build $((built - started)) s, checks $(($(date +%s) - built)) s"
