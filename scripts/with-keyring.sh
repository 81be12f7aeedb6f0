#!/bin/sh
# Runs a command against a real, private Secret Service: a fresh D-Bus session bus (dbus-run-session) with
# GNOME Keyring, its login keyring created and unlocked with the password "pw" (an empty one fails).
#   scripts/with-keyring.sh CMD [ARG...]
# Your own keyring and session are never touched: HOME, XDG_{DATA,CONFIG,CACHE}_HOME and XDG_RUNTIME_DIR point
# into a new temporary directory (exported as KNOCK_KEYRING_SANDBOX), removed when CMD ends.
# client-gui/tests/secrets_keyring.rs runs itself under it; by hand, e.g. `scripts/with-keyring.sh secret-tool
# search --all service knock-toolkit`.
# Exit status: CMD's; 77 when dbus-run-session or gnome-keyring-daemon is missing (scripts/install-deps.sh
# installs them); 70 when the keyring does not start.
set -eu

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 64
fi
for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-keyring.sh: $tool not found: install dbus and gnome-keyring (scripts/install-deps.sh)" >&2
    exit 77
  fi
done

sandbox=$(mktemp -d "${TMPDIR:-/tmp}/knock-keyring.XXXXXX")
trap 'rm -rf "$sandbox"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$sandbox/.local/share" "$sandbox/.config" "$sandbox/.cache" "$sandbox/run"
chmod 700 "$sandbox" "$sandbox/run"

status=0
# scripts/session-daemon.sh starts the daemon inside the private session, its output in the sandbox, and
# stops it by its own pid before the session ends.
env -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL -u SSH_AUTH_SOCK \
  HOME="$sandbox" XDG_DATA_HOME="$sandbox/.local/share" XDG_CONFIG_HOME="$sandbox/.config" \
  XDG_CACHE_HOME="$sandbox/.cache" XDG_RUNTIME_DIR="$sandbox/run" KNOCK_KEYRING_SANDBOX="$sandbox" \
  dbus-run-session -- "$(dirname "$0")/session-daemon.sh" org.freedesktop.secrets "$sandbox/daemon.log" \
    'printf %s pw | gnome-keyring-daemon --foreground --unlock --components=secrets' "$@" || status=$?
exit "$status"
