#!/usr/bin/env bash
# Runs a command where systemd is the service manager, so package tests exercise what real hosts do
# (deb-systemd-helper, deb-systemd-invoke, the unit's sandboxing, restart on upgrade).
#   scripts/with-systemd.sh CMD [ARG...]
# With systemd running (/run/systemd/system exists), CMD runs as it is. Without (containers, CI
# machines whose PID 1 is something else), it starts a systemd of its own as PID 1 of new PID, mount,
# network and UTS namespaces and runs CMD inside them:
# - the target it boots starts nothing (knock-pkgtest.target), so no service of the machine starts, and
#   timers are masked (apt's daily jobs would take dpkg's lock);
# - /run, /tmp and /var/tmp are private tmpfs mounts: systemd-tmpfiles empties /tmp when a service first
#   pulls in sysinit.target, and that must never be the machine's /tmp (nor may CMD keep files there across
#   a service start); the rest of the file system is the machine's (dpkg installs there);
# - a container's /usr/sbin/policy-rc.d (which forbids starting services) is replaced, in the namespace
#   only, by one that allows it;
# - the network namespace has only loopback (systemd brings it up).
# The namespaces end with CMD: systemd is killed, and every process it started with it. Needs root.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 64; }
if [ -d /run/systemd/system ] || [ "${KNOCK_WITH_SYSTEMD:-}" = inside ]; then
  exec "$@"
fi
[ "$(id -u)" -eq 0 ] || { echo "with-systemd.sh: needs root (namespaces, systemd as PID 1)" >&2; exit 1; }
systemd_bin=/lib/systemd/systemd
[ -x "$systemd_bin" ] || { echo "with-systemd.sh: $systemd_bin missing: apt-get install systemd" >&2; exit 1; }

tag="knock-pkgtest-$$"
boot=$(mktemp "${TMPDIR:-/tmp}/with-systemd.XXXXXX")
cat >"$boot" <<EOF
#!/bin/sh
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mkdir -p /run/systemd/system /run/lock
printf '[Unit]\nDescription=with-systemd.sh: nothing else started\nDefaultDependencies=no\n' \
  >/run/systemd/system/knock-pkgtest.target
# No timers: the machine's apt-daily and unattended-upgrades would take dpkg's lock in the middle of a test.
ln -s /dev/null /run/systemd/system/timers.target
# A container's policy-rc.d forbids maintainer scripts to start services (exit 101); here they may, as on a
# host without one. Only inside these namespaces: the machine's file is not changed.
if [ -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 0\n' >/run/policy-rc.d
  chmod 755 /run/policy-rc.d
  mount --bind /run/policy-rc.d /usr/sbin/policy-rc.d
fi
exec env container=$tag $systemd_bin --system --unit=knock-pkgtest.target --log-target=null
EOF
chmod 700 "$boot"
setsid unshare --fork --pid --mount --net --uts --mount-proc "$boot" </dev/null >/dev/null 2>&1 &
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -f "$boot"
}
trap cleanup EXIT
for _ in $(seq 100); do
  pid=$(pgrep -f -- "--unit=knock-pkgtest.target" 2>/dev/null | while read -r p; do
    tr '\0' '\n' </proc/"$p"/environ 2>/dev/null | grep -qx "container=$tag" && echo "$p"; done | head -1) || true
  if [ -n "$pid" ] && state=$(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null) &&
    [ "$state" = running ]; then
    break
  fi
  sleep 0.1
done
[ -n "$pid" ] || { echo "with-systemd.sh: systemd did not start in its namespaces" >&2; exit 1; }
echo "with-systemd.sh: running under a private systemd (pid $pid on this machine)" >&2
status=0
nsenter -t "$pid" -a --wd="$(pwd)" env KNOCK_WITH_SYSTEMD=inside "$@" || status=$?
exit "$status"
