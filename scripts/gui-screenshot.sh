#!/usr/bin/env bash
# Takes the screenshots of knock-gui that the README, docs/gui.md and reviewers look at, in a real window, and checks
# each one is not blank. Usage: scripts/gui-screenshot.sh [OUT_DIR]   (default docs/)
#
#   knock-gui-empty.png      first start, no profiles
#   knock-gui-list.png       the example profiles grouped by tag under headers (dark theme)
#   knock-gui-knocking.png   a knock in progress (stepper, Cancel)
#   knock-gui.png            a door that opened (banner "Door open", stepper, connect), full list
#   knock-gui-failed.png     a door that did not open (verify port closed)
#   knock-gui-editor-error.png  the editor with an error next to its field
#   knock-gui-spa-keys.png   an SPA profile with generated keys (monospace, one line each)
#   knock-gui-small.png      the window at its minimum size, 640x400
#   knock-gui-light.png      the light theme
#   knock-gui-already-open.png  a second open of an open door: nothing sent, "Already open", Knock anyway
#   knock-gui-diagnose.png   Diagnose of the door that did not open: each check, its verdict and advice
#   knock-gui-rotating.png   a rotating profile: the seconds left in its window, ports hidden (Reveal)
#   knock-gui-quit.png       quitting after opening a door with a close sequence: "Close the doors…?"
#   sizes/knock-gui-WxH-SCREEN.png  at 640x400, 1000x680 and 1920x1080 (issue 24): the detail view, the
#                            delete question, the editor of each kind with Verify ticked, the discard
#                            question (the layout check in client-gui/tests/layout.rs asserts what these show)
#
# Runs its own Xvfb (Mesa software GL), the app (KNOCK_GUI_BIN, default the debug build
# target/debug/knock-gui, built if missing) on a temporary copy of profiles/*.toml plus three loopback
# profiles, with HOME and XDG_* in a temporary directory; drives it with xdotool key presses only; saves
# the window with `import`. Everything it starts is stopped on exit.
#
# Traffic: as root the script re-runs itself in new network + mount namespaces, where only loopback is up
# and /etc/hosts maps the example host names to documentation addresses, so the knocks go to 127.0.0.1
# only (a listener there plays the opened door's port) and nothing else leaves the namespace. Without
# root it refuses (the knocks would go to this machine's loopback, which is harmless, but the example
# names would be resolved through the system resolver).
# Needs: Xvfb, xdotool, xdpyinfo (x11-utils), import/compare/identify/mogrify (imagemagick), python3.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out_dir=${1:-docs}
target_dir=${CARGO_TARGET_DIR:-target}
bin=${KNOCK_GUI_BIN:-$target_dir/debug/knock-gui}
screen=1920x1080x24

die() { echo "gui-screenshot: $*" >&2; exit 1; }
for tool in Xvfb xdotool xdpyinfo import compare identify mogrify python3; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

# Build before entering the namespaces: cargo may need the registry.
if [ ! -x "$bin" ]; then
  echo "gui-screenshot: building $bin" >&2
  cargo build -p client-gui --bin knock-gui
fi
bin=$(realpath "$bin")
out_dir=$(mkdir -p "$out_dir" && realpath "$out_dir")

if [ -z "${KNOCK_GUI_SHOT_ISOLATED:-}" ]; then
  [ "$(id -u)" -eq 0 ] && unshare --net --mount true 2>/dev/null \
    || die "needs root and unshare (own network namespace for the knocks)"
  KNOCK_GUI_SHOT_ISOLATED=1 KNOCK_GUI_BIN="$bin" exec unshare --net --mount -- "$0" "$out_dir"
fi
ip link set lo up

work=$(mktemp -d /tmp/knock-gui-shot.XXXXXX)
xvfb_pid=""
app_pid=""
listener_pid=""
stop() { # PID: TERM, then KILL after 2 s
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$app_pid"
  stop "$listener_pid"
  stop "$xvfb_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

printf '%s\n' "127.0.0.1 localhost" "::1 localhost" "192.0.2.10 bastion.example.org" \
  "192.0.2.11 fin.example.org" "192.0.2.12 mail.example.org" > "$work/hosts"
mount --bind "$work/hosts" /etc/hosts

# The opened door: its service port 127.0.0.1:2222 starts listening when the last hit of local-open's
# sequence (UDP 9000) arrives, as a knockd door would open (before, the port is closed, so the app's
# already-open check lets the first knock through). 2223 stays closed: the failed door.
python3 -c 'import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 9000)); u.recvfrom(64)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2222)); s.listen(64); time.sleep(3600)' &
listener_pid=$!

# --- Xvfb on a free display ---------------------------------------------------------------------------
# shellcheck source=scripts/xvfb.sh
. "$repo/scripts/xvfb.sh"
start_xvfb

# --- profile stores -----------------------------------------------------------------------------------
mkdir -p "$work/empty" "$work/examples"
cp profiles/*.toml "$work/examples/"
cat > "$work/examples/local-open.toml" <<'TOML'
host = "127.0.0.1"
open = "7000:udp,8000:udp,9000:udp"
close = "9000:udp,8000:udp"
delay_ms = 40
tags = ["lab"]
notes = "A door on this machine whose port answers."

[verify]
port = 2222
timeout_ms = 2000
TOML
cat > "$work/examples/local-closed.toml" <<'TOML'
host = "127.0.0.1"
open = "7100:udp,7200:udp"
tags = ["lab"]

[verify]
port = 2223
timeout_ms = 600
attempts = 2
backoff_ms = 200
TOML
# A rotating profile in a store of its own: its countdown changes every second, so the scenes that wait
# for the window to settle must not list it.
mkdir -p "$work/rotating"
cp profiles/bastion.toml "$work/rotating/"
cat > "$work/rotating/rotating-door.toml" <<'TOML'
host = "127.0.0.1"
tags = ["lab"]

[rotating]
door = "ssh"
TOML
cat > "$work/examples/lab-door.toml" <<'TOML'
host = "127.0.0.1"
open = "7600:udp"
close = "7700:udp"
tags = ["lab"]
TOML
cat > "$work/examples/local-slow.toml" <<'TOML'
host = "127.0.0.1"
open = "7300:udp,7400:udp,7500:udp"
delay_ms = 8000
tags = ["lab"]
TOML

# --- helpers ------------------------------------------------------------------------------------------
run_no=0
# start_app STORE [VAR=VALUE...]: a fresh HOME each time; waits for the window, sets $wid.
start_app() {
  local store=$1; shift
  run_no=$((run_no + 1))
  local h="$work/home-$run_no"
  mkdir -p "$h/home" "$h/data" "$h/config" "$h/cache" "$h/run"
  chmod 700 "$h/run"
  env -i PATH="$PATH" DISPLAY="$DISPLAY" LANG=C.UTF-8 \
    HOME="$h/home" XDG_DATA_HOME="$h/data" XDG_CONFIG_HOME="$h/config" XDG_CACHE_HOME="$h/cache" \
    XDG_RUNTIME_DIR="$h/run" DBUS_SESSION_BUS_ADDRESS="unix:path=$h/run/no-bus" \
    WINIT_X11_SCALE_FACTOR=1 LIBGL_ALWAYS_SOFTWARE=1 "$@" \
    "$bin" --profiles-dir "$store" >"$work/app-$run_no.log" 2>&1 &
  app_pid=$!
  wid=$(timeout 60 xdotool search --sync --onlyvisible --name '^knock' | head -n1) || true
  [ -n "$wid" ] || die "no knock window within 60 s: $(tail -5 "$work/app-$run_no.log")"
  xdotool windowmove "$wid" 0 0
  xdotool mousemove 1915 1075   # outside the window: no hover highlight or tooltip
  xdotool windowfocus --sync "$wid"   # no window manager: give the window the keyboard ourselves
  sleep 1.5
}
keys() { xdotool key --clearmodifiers --delay 60 "$@"; sleep 0.4; }
type_text() { xdotool type --delay 40 "$1"; sleep 0.4; }
# non_blank FILE: more than 16 colours, or the capture is refused.
non_blank() { [ "$(identify -format %k "$1")" -gt 16 ] || die "$1 looks blank ($(identify -format %k "$1") colours)"; }
# alive NAME: the app still runs (`import` of a window that is gone waits forever).
alive() { kill -0 "$app_pid" 2>/dev/null || die "knock-gui exited before $1: $(tail -5 "$work/app-$run_no.log")"; }
# capture NAME: the window now (for animated states).
capture() {
  alive "$1"
  local dest="$out_dir/$1"
  import -window "$wid" "$dest"
  non_blank "$dest"
  mogrify -strip "$dest"
  echo "gui-screenshot: wrote $dest ($(identify -format '%wx%h' "$dest"))"
}
# capture_settled NAME: once two captures in a row are identical (the app has settled).
capture_settled() {
  alive "$1"
  local prev="$work/prev.png" cur="$work/cur.png"
  import -window "$wid" "$prev"
  for _ in $(seq 40); do
    sleep 0.25
    import -window "$wid" "$cur"
    if compare -metric AE "$prev" "$cur" null: 2>/dev/null; then
      cp "$cur" "$out_dir/$1"; non_blank "$out_dir/$1"; mogrify -strip "$out_dir/$1"
      echo "gui-screenshot: wrote $out_dir/$1 ($(identify -format '%wx%h' "$out_dir/$1"))"
      return 0
    fi
    mv "$cur" "$prev"
  done
  die "the window did not settle within 10 s (for $1)"
}
# pick NAME: Ctrl+F, type the name: the selection follows the search to that row.
pick() { keys ctrl+f; type_text "$1"; }
# clear_search: empty the search box (the selection stays), leave it.
clear_search() { keys ctrl+f ctrl+a BackSpace Escape; }
quit() { stop "$app_pid"; app_pid=""; }

# --- scenes -------------------------------------------------------------------------------------------
start_app "$work/empty"
capture_settled knock-gui-empty.png
quit

start_app "$work/examples"
capture_settled knock-gui-list.png
pick local-slow; keys Return; sleep 1.5
capture knock-gui-knocking.png
quit

start_app "$work/examples"
pick local-open; keys Return; sleep 3; clear_search
capture_settled knock-gui.png
pick local-closed; keys Return; sleep 4; clear_search
capture_settled knock-gui-failed.png
keys ctrl+n; type_text "web/1"; sleep 1
capture knock-gui-editor-error.png   # not "settled": the text cursor blinks
quit

# SPA keys: New, Tab to the "SPA (fwknop)" radio, Space; click "Generate keys" (where it is in the
# default 1000x680 window at scale 1; KNOCK_GUI_GENERATE="X Y" overrides).
start_app "$work/empty"
keys ctrl+n; type_text fw; keys Tab; type_text fw.example.org
keys Tab Tab space
read -r gx gy <<<"${KNOCK_GUI_GENERATE:-450 343}"
xdotool mousemove --window "$wid" "$gx" "$gy" click 1; sleep 0.5
xdotool mousemove 1915 1075; sleep 1
capture knock-gui-spa-keys.png
quit

start_app "$work/examples"
pick bastion; clear_search
xdotool windowsize "$wid" 640 400; sleep 1
capture_settled knock-gui-small.png
quit

start_app "$work/examples" KNOCK_GUI_THEME=light
pick local-open; keys Return; sleep 3; clear_search
capture_settled knock-gui-light.png
quit

# Issue 13: local-open's door opened in an earlier scene: this open finds it open and sends nothing.
# Then Diagnose (Ctrl+D) of the door that does not open.
start_app "$work/examples"
pick local-open; keys Return; sleep 2; clear_search
capture_settled knock-gui-already-open.png
pick local-closed; keys ctrl+d; sleep 6; clear_search
capture_settled knock-gui-diagnose.png
# Issue 14: quitting after opening a door that has a close sequence asks whether to close it.
pick lab-door; keys Return; sleep 1; clear_search
keys ctrl+q; sleep 1
capture_settled knock-gui-quit.png
quit

# Issue 12: a rotating profile counts down (captured as is: the countdown changes every second).
start_app "$work/rotating"
pick rotating-door; clear_search; sleep 1
capture knock-gui-rotating.png
quit
# Issue 24: every action reachable at every size. One run per size, driven by keys only.
mkdir -p "$out_dir/sizes"
for size in 640x400 1000x680 1920x1080; do
  start_app "$work/examples"
  xdotool windowsize "$wid" "${size%x*}" "${size#*x}"; sleep 1
  pick bastion; clear_search
  capture_settled "sizes/knock-gui-$size-detail.png"
  keys Delete; sleep 0.5
  capture_settled "sizes/knock-gui-$size-delete.png"
  keys Escape
  # New: Name has the keyboard. Name, Host, then Tab past the three kind radios to Open; six Tabs on
  # (Close, family, method, TCP flags, delay) is the Verify box.
  keys ctrl+n; type_text web; keys Tab; type_text 192.0.2.2; keys Tab Tab Tab Tab; type_text 7000
  keys Tab Tab Tab Tab Tab Tab space; sleep 0.5
  capture "sizes/knock-gui-$size-editor-sequence.png"
  # Back to the SPA radio (eight Shift+Tabs from Verify), then the Rotating one.
  for _ in 1 2 3 4 5 6 7 8; do xdotool key --clearmodifiers shift+Tab; sleep 0.05; done
  keys space; sleep 0.5
  capture "sizes/knock-gui-$size-editor-spa.png"
  keys Tab space; sleep 0.5
  capture "sizes/knock-gui-$size-editor-rotating.png"
  keys Escape; sleep 0.5
  capture "sizes/knock-gui-$size-discard.png"
  quit
done
echo "gui-screenshot: done"
