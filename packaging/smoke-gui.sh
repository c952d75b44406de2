#!/usr/bin/env bash
# Start a built Scrobble Tray as a user would (the tray app, not a command) on Qt's
# offscreen platform (or $SMOKE_QPA), wait until its core is listening, stop it with SIGTERM, and check:
# a clean exit (0), no traceback, the SVG icon engine loaded (the icons survived the
# pruning of Qt plugins). Temporary data folder; no keyring, no tunnel, no network.
#
#   packaging/smoke-gui.sh dist/scrobbletray/scrobbletray
#   SMOKE_QPA=xcb xvfb-run -a packaging/smoke-gui.sh dist/scrobbletray/scrobbletray   (a real X server)
set -euo pipefail
exe=${1:?usage: smoke-gui.sh PATH-TO-SCROBBLETRAY}
timeout_s=${SMOKE_TIMEOUT:-30}
qpa=${SMOKE_QPA:-offscreen}
if [ "$qpa" = offscreen ]; then hide=(-u DISPLAY -u WAYLAND_DISPLAY); else hide=(); fi
data=$(mktemp -d "${TMPDIR:-/tmp}/scrobbletray-smoke-XXXXXX")
trap 'rm -rf "$data"' EXIT
printf '{"port": 0, "tunnel_enabled": false}\n' > "$data/settings.json"

env "${hide[@]}" -u NGROK_AUTHTOKEN \
    QT_QPA_PLATFORM="$qpa" QT_DEBUG_PLUGINS=1 \
    PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring \
    "$exe" --data-dir "$data" >"$data/stdout" 2>"$data/stderr" &
pid=$!

fail() {
    echo "GUI SMOKE TEST FAILED: $*" >&2
    kill -KILL "$pid" 2>/dev/null || true
    echo "--- log" >&2; cat "$data/scrobbletray.log" >&2 2>/dev/null || true
    echo "--- stderr (without Qt's plugin debug lines)" >&2
    grep -v -E '^(qt\.core\.|[[:space:]]|\{|\}|"|$)' "$data/stderr" | tail -40 >&2 || true
    exit 1
}

started=$(date +%s%N)
until grep -q "listening on" "$data/scrobbletray.log" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" && rc=0 || rc=$?; fail "the app exited (code $rc) before its core was listening"; }
    grep -q " ERROR " "$data/scrobbletray.log" 2>/dev/null && fail "an error was logged before the core was listening"
    [ $(( ($(date +%s%N) - started) / 1000000000 )) -lt "$timeout_s" ] || fail "the core was not listening after ${timeout_s} s"
    sleep 0.1
done
up_ms=$(( ($(date +%s%N) - started) / 1000000 ))

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$pid" && rc=0 || rc=$?
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM, expected 0"
grep -q "Traceback" "$data/stderr" "$data/stdout" "$data/scrobbletray.log" && fail "a traceback was printed"
grep -q 'libqsvgicon[^"]*" loaded library' "$data/stderr" || fail "Qt's SVG icon engine was not loaded: icons would be blank"
grep -q "libq${qpa}[^\"]*\" loaded library" "$data/stderr" || fail "Qt's $qpa platform plugin was not loaded"
echo "GUI smoke test passed: tray app up in ${up_ms} ms ($qpa), SVG icons loaded, clean exit on SIGTERM"
