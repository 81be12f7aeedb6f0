#!/bin/sh
# Run inside a private D-Bus session (dbus-run-session) by with-keyring.sh and with-notifyd.sh:
#   session-daemon.sh BUS_NAME LOG 'DAEMON COMMAND' CMD [ARG...]
# starts DAEMON COMMAND (a shell command line) in the background with its output in LOG (never on the
# caller's stdout, which a pipe may wait on), waits up to 5 s until it owns BUS_NAME on the session bus,
# runs CMD, and stops the daemon by its own process group (never by name: other daemons on the machine
# are not ours) before returning.
# Exit status: CMD's; 70 (with LOG on stderr) when the daemon exits or never owns BUS_NAME.
set -u
bus_name=$1 log=$2 daemon_command=$3
shift 3
# In a process group of its own (setsid), so that stopping it stops every process of the command line
# (`printf ... | gnome-keyring-daemon` is two).
setsid sh -c "$daemon_command" >"$log" 2>&1 &
daemon=$!
stop() { kill -- "-$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; }
trap stop EXIT
ready=""
for _ in $(seq 100); do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner "string:$bus_name" 2>/dev/null | grep -q "boolean true"; then
    ready=1
    break
  fi
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$ready" ]; then
  echo "session-daemon.sh: '$daemon_command' did not take $bus_name on the session bus; its output:" >&2
  cat "$log" >&2
  exit 70
fi
"$@"
