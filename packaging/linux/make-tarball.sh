#!/usr/bin/env bash
# Pack the one-folder build as dist/scrobbletray-<version>-linux-<arch>.tar.gz and check
# the result: unpacked in a temporary folder, it passes --self-test, and its install.sh
# installs into (and uninstalls from) a temporary home.
#
#   packaging/linux/make-tarball.sh          (runs packaging/build.sh first if needed)
#
# The archive holds one folder, scrobbletray-<version>/: the program (scrobbletray and
# _internal/), install.sh, the desktop entries, the icon and a README. Users unpack it
# anywhere and run ./scrobbletray, or ./install.sh for a menu entry (no root needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/linux

version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
[ -n "$version" ] || { echo "error: no __version__ in app/__init__.py" >&2; exit 1; }
arch=$(uname -m)
name="scrobbletray-$version"
out="dist/$name-linux-$arch.tar.gz"

if [ ! -x dist/scrobbletray/scrobbletray ]; then
    packaging/build.sh
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/scrobbletray-tarball-XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp -a dist/scrobbletray/. "$stage/$name/"
install -m 0755 "$here/install.sh" "$stage/$name/install.sh"
install -m 0644 "$here/scrobbletray.desktop" "$here/scrobbletray-autostart.desktop" "$stage/$name/"
install -m 0644 app/resources/icons/app.svg "$stage/$name/scrobbletray.svg"
cat > "$stage/$name/README.txt" <<EOF
Scrobble Tray $version for Linux ($arch)

Run it from here:        ./scrobbletray
Check that it works:     ./scrobbletray --self-test
Add it to your menu:     ./install.sh          (into ~/.local; ./install.sh --uninstall removes it)

Scrobble Tray keeps its data in ~/.local/share/scrobbletray; uninstalling leaves it there.
It needs a desktop with a system tray (StatusNotifier or XEmbed) and the usual X11/Wayland
libraries (on Debian/Ubuntu: libxcb-cursor0, libxkbcommon-x11-0, libegl1).
EOF

# Reproducible-ish: sorted names, no build-machine owner, one timestamp.
mtime=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" \
    -C "$stage" -cf - "$name" | gzip -6n > "$out.tmp"
mv "$out.tmp" "$out"

# Prove it: unpack elsewhere, self-test, install into a scratch home, uninstall.
check=$(mktemp -d "${TMPDIR:-/tmp}/scrobbletray-tarball-check-XXXXXX")
trap 'rm -rf "$stage" "$check"' EXIT
tar -xzf "$out" -C "$check"
env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$check/$name/scrobbletray" --self-test >"$check/self-test.txt" \
    || { cat "$check/self-test.txt"; echo "error: the unpacked program failed its self-test" >&2; exit 1; }
HOME="$check/home" XDG_DATA_HOME="" "$check/$name/install.sh" >/dev/null
entry="$check/home/.local/share/applications/scrobbletray.desktop"
grep -q "^Exec=$check/home/.local/opt/scrobbletray/scrobbletray\$" "$entry" \
    || { echo "error: install.sh wrote a wrong Exec line:" >&2; grep Exec "$entry" >&2; exit 1; }
"$check/home/.local/bin/scrobbletray" --version >/dev/null
HOME="$check/home" XDG_DATA_HOME="" "$check/$name/install.sh" --uninstall >/dev/null
[ ! -e "$entry" ] && [ ! -e "$check/home/.local/opt/scrobbletray" ] \
    || { echo "error: install.sh --uninstall left files behind" >&2; exit 1; }

echo "$out: $(du -h "$out" | cut -f1) (unpacked copy passed --self-test; install.sh checked)"
