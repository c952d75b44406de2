#!/usr/bin/env bash
# Install Scrobble Tray for this user (no root): the program into ~/.local/opt/scrobbletray,
# the command ~/.local/bin/scrobbletray, a menu entry and the icon. Run it from the
# unpacked tarball. "./install.sh --uninstall" removes all of it (your data stays in
# ~/.local/share/scrobbletray, and a "Start at login" entry in ~/.config/autostart too).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
opt="$HOME/.local/opt/scrobbletray"
bin="$HOME/.local/bin/scrobbletray"
entry="$data_home/applications/scrobbletray.desktop"
icon="$data_home/icons/hicolor/scalable/apps/scrobbletray.svg"

refresh() {  # menus and icon caches pick the change up (best effort)
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$data_home/applications" || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data_home/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$opt"
    rm -f "$bin" "$entry" "$icon"
    refresh
    echo "Scrobble Tray removed (your data in $data_home/scrobbletray is kept)."
    exit 0
fi
[ -x "$src/scrobbletray" ] && [ -d "$src/_internal" ] || { echo "error: run install.sh from the unpacked Scrobble Tray folder" >&2; exit 1; }

# Replace, never merge: a library dropped by a new version must not linger.
rm -rf "$opt.new"
mkdir -p "$opt.new"
cp -a "$src/scrobbletray" "$src/_internal" "$opt.new/"
rm -rf "$opt"
mv "$opt.new" "$opt"

mkdir -p "$(dirname "$bin")" "$(dirname "$entry")" "$(dirname "$icon")"
ln -sfn "$opt/scrobbletray" "$bin"
install -m 0644 "$src/scrobbletray.svg" "$icon"
# An absolute Exec: ~/.local/bin is not on every desktop session's PATH. Quoted as the
# desktop entry spec asks when the path has spaces or characters it reserves.
exec_path=$(printf '%s' "$opt/scrobbletray" | sed 's/%/%%/g')
case "$exec_path" in
    *[[:space:]\"\`\$]*) exec_path="\"$(printf '%s' "$exec_path" | sed 's/["`$]/\\&/g')\"" ;;
esac
EXEC_LINE="Exec=$exec_path" awk '/^Exec=/ { print ENVIRON["EXEC_LINE"]; next } { print }' \
    "$src/scrobbletray.desktop" > "$entry.tmp"
mv "$entry.tmp" "$entry"
refresh
echo "Scrobble Tray installed: find it in your applications menu, or run $bin"
