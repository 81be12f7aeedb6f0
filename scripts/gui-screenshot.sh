#!/usr/bin/env bash
# Takes the README screenshot of knock-gui: the example profiles, with "bastion" selected so the detail
# view shows. Usage: scripts/gui-screenshot.sh [OUT.png]   (default docs/knock-gui.png)
#
# Runs its own Xvfb (Mesa software GL) on a free display, the release binary (built if missing) on a
# temporary copy of profiles/*.toml, with HOME and XDG_* in a temporary directory, clicks the "bastion"
# row with xdotool and saves the window with `import`. Everything it starts is stopped on exit.
#
# No traffic: as root the script re-runs itself in a new network namespace (only a loopback that is down)
# and mount namespace, where /etc/hosts maps the example host names to documentation addresses
# (RFC 5737/3849), so selecting bastion shows an address without a DNS query. Knock is never clicked.
# Without unshare (not root), selecting bastion resolves bastion.example.org through the system resolver.
#
# Environment: KNOCK_GUI_BIN (default target/release/knock-gui); KNOCK_GUI_ROW="X Y" overrides where the
# first row's label of the host list is, in window coordinates (measured on the default 1000x680 window,
# scale factor 1); the script fails, saving what it saw, if clicking there selects nothing.
# Needs: Xvfb, xdotool, xdpyinfo (x11-utils), import/compare/identify/mogrify (imagemagick): scripts/install-deps.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=${1:-docs/knock-gui.png}
bin=${KNOCK_GUI_BIN:-target/release/knock-gui}
row_xy=${KNOCK_GUI_ROW:-"120 61"}   # the first row's "name · host" label in the host list
screen=1280x800x24

die() { echo "gui-screenshot: $*" >&2; exit 1; }
for tool in Xvfb xdotool xdpyinfo import compare identify mogrify; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

# Build before entering the namespaces: cargo may need the registry.
if [ ! -x "$bin" ]; then
  echo "gui-screenshot: building $bin (release; several minutes when cold)" >&2
  cargo build --release -p client-gui
fi

# Re-run inside fresh network + mount namespaces, once.
if [ -z "${KNOCK_GUI_SHOT_ISOLATED:-}" ]; then
  if [ "$(id -u)" -eq 0 ] && unshare --net --mount true 2>/dev/null; then
    KNOCK_GUI_SHOT_ISOLATED=1 exec unshare --net --mount -- "$0" "$@"
  fi
  echo "gui-screenshot: warning: cannot unshare the network; selecting bastion resolves bastion.example.org" >&2
fi

work=$(mktemp -d /tmp/knock-gui-shot.XXXXXX)
xvfb_pid=""
app_pid=""
stop() { # PID [-g]: TERM, then KILL after 2 s; -g: PID's whole process group (PID leads it)
  local pid=$1 target=$1
  [ "${2:-}" = -g ] && target=-$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -- "$target" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$app_pid" -g
  stop "$xvfb_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -n "${KNOCK_GUI_SHOT_ISOLATED:-}" ]; then
  printf '%s\n' "127.0.0.1 localhost" "::1 localhost" \
    "192.0.2.10 bastion.example.org" > "$work/hosts"
  mount --bind "$work/hosts" /etc/hosts
fi

# --- Xvfb on a free display ---------------------------------------------------------------------------
# shellcheck source=scripts/xvfb.sh
. "$repo/scripts/xvfb.sh"
start_xvfb

# --- the app, on a temporary store, with a temporary HOME ---------------------------------------------
mkdir -p "$work/profiles" "$work/home" "$work/data" "$work/config" "$work/cache" "$work/run"
chmod 700 "$work/run"
cp profiles/*.toml "$work/profiles/"
# The toolbar shows whether the OS keyring works: with dbus-run-session and gnome-keyring installed, the app
# talks to a private, throw-away Secret Service (scripts/with-keyring.sh); otherwise to no bus at all (the
# picture then says "keyring: unavailable"). Never to the caller's session bus.
launcher=(env -u DBUS_SESSION_BUS_ADDRESS)
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  launcher=(scripts/with-keyring.sh)
else
  echo "gui-screenshot: no dbus-run-session/gnome-keyring-daemon: the picture shows \"keyring: unavailable\"" >&2
fi
# setsid: the app, and the keyring's bus and daemon if any, form one process group, stopped together.
setsid "${launcher[@]}" sh -c 'exec env -i DBUS_SESSION_BUS_ADDRESS="${DBUS_SESSION_BUS_ADDRESS:-unix:path=$0/no-bus}" "$@"' \
  "$work/run" PATH="$PATH" DISPLAY="$DISPLAY" LANG=C.UTF-8 \
  HOME="$work/home" XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
  XDG_CACHE_HOME="$work/cache" XDG_RUNTIME_DIR="$work/run" \
  WINIT_X11_SCALE_FACTOR=1 LIBGL_ALWAYS_SOFTWARE=1 \
  "$bin" --profiles-dir "$work/profiles" >"$work/app.log" 2>&1 &
app_pid=$!

wid=$(timeout 30 xdotool search --sync --onlyvisible --name '^knock$' | head -n1) || true
[ -n "$wid" ] || die "no knock window within 30 s; app log: $(tail -5 "$work/app.log")"

# Captures the window into $1 once two captures in a row are identical (the app has settled).
capture_settled() {
  local dest=$1 prev="$work/prev.png" cur="$work/cur.png"
  import -window "$wid" "$prev"
  for _ in $(seq 40); do
    sleep 0.25
    import -window "$wid" "$cur"
    if [ "$(identify -format %k "$cur")" -gt 16 ] && compare -metric AE "$prev" "$cur" null: 2>/dev/null; then
      mv "$cur" "$dest"
      return 0
    fi
    mv "$cur" "$prev"
  done
  die "the window did not settle within 10 s"
}

capture_settled "$work/before.png"
# Filter the list down to bastion with the search box (Ctrl+F), so that bastion is the first row whatever
# the other profiles are; click that row; then clear the search: the full list shows, bastion selected.
# (Never Enter: it knocks the selected host.)
read -r row_x row_y <<<"$row_xy"
xdotool mousemove --window "$wid" 660 500   # over the empty central panel
xdotool windowfocus --sync "$wid"   # no window manager: give the window the keyboard focus ourselves
sleep 0.2
xdotool key --clearmodifiers ctrl+f
xdotool type --delay 30 bastion
sleep 0.4
xdotool mousemove --window "$wid" "$row_x" "$row_y" click 1
sleep 0.3
xdotool key --clearmodifiers ctrl+f
xdotool key --clearmodifiers ctrl+a BackSpace Escape
sleep 0.3
# Park the pointer outside the window (the screen is larger) so no hover highlight or tooltip shows.
xdotool mousemove 1275 795
sleep 0.3
capture_settled "$work/after.png"

# The detail view fills the central panel: if it did not change, the click missed the row.
changed=$(compare -metric AE -crop 560x400+400+60 "$work/before.png" "$work/after.png" null: 2>&1 || true)
if [ "${changed%% *}" = "0" ]; then
  cp "$work/before.png" /tmp/knock-gui-shot-missed.png
  die "clicking ($row_xy) selected nothing; see /tmp/knock-gui-shot-missed.png and set KNOCK_GUI_ROW=\"X Y\""
fi

mkdir -p "$(dirname "$out")"
cp "$work/after.png" "$out"
mogrify -strip "$out"   # no date chunks: the same picture gives the same file
echo "gui-screenshot: wrote $out ($(identify -format '%wx%h' "$out"))"
