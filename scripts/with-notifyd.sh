#!/usr/bin/env bash
# Runs a command against a real, private desktop notification daemon: dunst (org.freedesktop.Notifications)
# on its own Xvfb display (the first free one from :97), on a fresh D-Bus session bus (dbus-run-session).
#   scripts/with-notifyd.sh CMD [ARG...]
# Inside, `dunstctl history` (after `dunstctl close-all`) reads back what dunst received.
# Your own desktop is never touched: HOME, XDG_{DATA,CONFIG,CACHE}_HOME and XDG_RUNTIME_DIR point into a new
# temporary directory (exported as KNOCK_NOTIFYD_SANDBOX), removed when CMD ends; dunst reads only the
# config written there (duplicates not stacked, so every notification sent is one in the history).
# client-gui/tests/notify_daemon.rs runs itself under it.
# Exit status: CMD's; 77 when dbus-run-session, Xvfb, xdpyinfo, dunst, dunstctl or busctl is missing
# (scripts/install-deps.sh installs them); 70 when Xvfb or dunst does not start.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 64
fi
for tool in dbus-run-session dbus-send Xvfb xdpyinfo dunst dunstctl busctl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-notifyd.sh: $tool not found: install dbus, xvfb, x11-utils, dunst and systemd (scripts/install-deps.sh)" >&2
    exit 77
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/knock-notifyd.XXXXXX")
xvfb_pid=""
# Stops only what this script started, by pid (other Xvfb and dunst instances on the machine are not ours).
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
die() { echo "with-notifyd.sh: $*" >&2; exit 70; }
cleanup() { [ -z "$xvfb_pid" ] || stop "$xvfb_pid"; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$work/.local/share" "$work/.config/dunst" "$work/.cache" "$work/run"
chmod 700 "$work" "$work/run"
cat >"$work/.config/dunst/dunstrc" <<'EOF'
[global]
    # Each notification the app sends stays a notification of its own, so the history counts them.
    stack_duplicates = false
    history_length = 100
    # Never hold notifications back for a full screen or an idle user.
    idle_threshold = 0
    # A history entry's "message" is then the body as dunst renders it (markup parsed, or stripped when
    # it does not parse), which the tests compare.
    format = "%b"
EOF

screen=1024x768x24
# shellcheck source=scripts/xvfb.sh
. "$(dirname "$0")/xvfb.sh"
start_xvfb

status=0
# scripts/session-daemon.sh starts dunst inside the private session, its output in the sandbox, and stops
# it by its pid before the session ends.
env -u DBUS_SESSION_BUS_ADDRESS -u WAYLAND_DISPLAY \
  HOME="$work" XDG_DATA_HOME="$work/.local/share" XDG_CONFIG_HOME="$work/.config" \
  XDG_CACHE_HOME="$work/.cache" XDG_RUNTIME_DIR="$work/run" KNOCK_NOTIFYD_SANDBOX="$work" \
  dbus-run-session -- "$(dirname "$0")/session-daemon.sh" org.freedesktop.Notifications "$work/dunst.log" \
    "dunst -config '$work/.config/dunst/dunstrc'" "$@" || status=$?
exit "$status"
