#!/usr/bin/env bash
# Builds the .deb packages twice (scripts/package-deb.sh: version N-1 as "VERSION~older", and N), runs
# lintian on them (no error allowed; the overridden warnings and their reasons are in each package's
# /usr/share/lintian/overrides), then, under systemd (scripts/with-systemd.sh starts a private one where
# the machine has none), installs N-1, upgrades to N, removes and purges, checking what each step
# promises. Needs root (dpkg). Used by .ci/run.
#   knock-cli     `knock-cli --version`; `man knock-cli` renders; completions for bash, zsh, fish installed
#   knock-gui     desktop-file-validate of the installed entry; icon files in the hicolor theme
#   knock-server  the installed sample config is 0640, group knock-server, and has no active door
#                 (`--check` refuses it: "no doors"); the install neither enables nor starts the service;
#                 `--check` refuses the sample's published sequence and passes a door made with
#                 `knock-server new-sequence`; that door opens on a knock over loopback, its command running
#                 as the system user knock-server, started by hand as root and as the systemd service;
#                 `man knock-server`; `systemd-analyze verify` of the installed unit. Upgrades never lock an
#                 admin out: an enabled, running server is running again on the new binary after the
#                 upgrade (a new PID) and still enabled, and a knock opens; a disabled, stopped one stays
#                 stopped and disabled; a masked one is never touched; a config that fails --check is
#                 never restarted into (the old server keeps running). Remove stops it and keeps the
#                 config; purge removes the config, the state, the logs, the enable state and the user.
# Pass --no-build to package binaries already built by `cargo build --release`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
[ "$(id -u)" -eq 0 ] || { echo "test-packages.sh: needs root (dpkg -i); run with sudo" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps desktop-file-validate man systemd-analyze lintian help2man deb-systemd-helper; do
  command -v "$tool" >/dev/null || { echo "test-packages.sh: $tool missing: run scripts/install-deps.sh" >&2; exit 1; }
done
packages=(knock-cli knock-gui knock-server)

if [ "${KNOCK_PACKAGES_NEW:-}" = "" ]; then
  # Outside systemd's namespaces: build (the network and the caches are the machine's), lint, then re-run
  # this script under systemd with the packages' paths.
  mapfile -t new < <(scripts/package-deb.sh "$@")
  [ "${#new[@]}" -eq 3 ] || { echo "test-packages.sh: expected 3 packages, got: ${new[*]}" >&2; exit 1; }
  version=$(dpkg-deb -f "${new[0]}" Version)
  # Beside the new ones: systemd's namespaces have a /tmp of their own.
  older="$(dirname "${new[0]}")/older"
  rm -rf "$older" && mkdir -p "$older"
  mapfile -t old < <(DEB_VERSION="$version~older" scripts/package-deb.sh --no-build)
  mv "${old[@]}" "$older/"
  old=("$older"/*.deb)
  for deb in "${new[@]}"; do
    echo "--- $(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
  done
  echo "--- lintian ${new[*]##*/}"
  lintian --fail-on error --info "${new[@]}"
  echo "ok   lintian: no errors (overrides: $(for d in "${new[@]}"; do dpkg-deb --fsys-tarfile "$d" |
    tar -xO --wildcards './usr/share/lintian/overrides/*' 2>/dev/null; done | grep -vc '^#'))"
  KNOCK_PACKAGES_OLD="${old[*]}" KNOCK_PACKAGES_NEW="${new[*]}" "$repo/scripts/with-systemd.sh" "$repo/scripts/test-packages.sh"
  exit $?
fi

# Under systemd from here on.
[ -d /run/systemd/system ] || { echo "test-packages.sh: not under systemd" >&2; exit 1; }
read -r -a old <<<"$KNOCK_PACKAGES_OLD"
read -r -a new <<<"$KNOCK_PACKAGES_NEW"
failures=0
check() { # check DESCRIPTION CMD...: runs CMD, reports, counts failures
  local what=$1; shift
  if out=$("$@" 2>&1); then
    echo "ok   $what"
  else
    echo "FAIL $what"; sed 's/^/     /' <<<"$out"; failures=$((failures + 1))
  fi
}
cleanup() { dpkg -P "${packages[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# Already installed (an earlier run, or by hand)? Start from nothing of ours.
cleanup

echo "--- install $(dpkg-deb -f "${old[0]}" Version)"
install_log=$(mktemp "$repo/target/pkgtest-install.XXXXXX")
dpkg -i "${old[@]}" 2>&1 | tee "$install_log"

# knock-cli
check "knock-cli --version" sh -c 'knock-cli --version | grep -q "^knock-cli [0-9]"'
check "man knock-cli renders" sh -c 'MANPAGER=cat MANWIDTH=80 man knock-cli | grep -q "knock-cli - Port knocking"'
check "man knock-cli-open renders, with EXIT STATUS" sh -c \
  'MANPAGER=cat MANWIDTH=80 man knock-cli-open | grep -q "^EXIT STATUS"'
check "man knock-cli-profile-add renders" sh -c 'MANPAGER=cat MANWIDTH=80 man knock-cli-profile-add | grep -q "knock-cli-profile-add"'
# The installed bash completion completes a saved profile's name by asking the installed knock-cli.
check "bash completion completes profile names" sh -c '
  dir=$(mktemp -d); trap "rm -rf $dir" EXIT
  KNOCK_PROFILES_DIR=$dir knock-cli profile add pkgtest-bastion --host 192.0.2.1 --open 1,2,3 >/dev/null
  out=$(KNOCK_PROFILES_DIR=$dir bash --norc --noprofile -c ". /usr/share/bash-completion/completions/knock-cli
    COMP_WORDS=(knock-cli open pkgtest-b); COMP_CWORD=2; COMP_TYPE=9
    _clap_complete_knock_cli knock-cli pkgtest-b open; echo \${COMPREPLY[@]}")
  echo "completed: $out"; [ "$out" = pkgtest-bastion ]'
check "zsh completion" grep -q "#compdef knock-cli" /usr/share/zsh/vendor-completions/_knock-cli
check "fish completion" grep -q -- "--command knock-cli" /usr/share/fish/vendor_completions.d/knock-cli.fish

# knock-gui
check "knock-gui installed" test -x /usr/bin/knock-gui
check "knock-gui --help" sh -c 'knock-gui --help | grep -q "usage: knock-gui"'
check "desktop-file-validate knock-gui.desktop" sh -c \
  'out=$(desktop-file-validate /usr/share/applications/knock-gui.desktop 2>&1); echo "$out"; [ -z "$out" ]'
check "icons" test -s /usr/share/icons/hicolor/scalable/apps/knock-gui.svg -a -s /usr/share/icons/hicolor/256x256/apps/knock-gui.png

# knock-server: the config path and binary as the installed unit names them.
unit=/usr/lib/systemd/system/knock-server.service
config=$(sed -n 's/^ExecStart=.*\(-c\|--config\)[ =]\([^ ]*\).*/\2/p' "$unit" | head -1)
check "man knock-server renders, with EXIT STATUS" sh -c 'MANPAGER=cat MANWIDTH=80 man 8 knock-server | grep -q "^EXIT STATUS"'
check "man knock-server.conf renders" sh -c 'MANPAGER=cat MANWIDTH=80 man 5 knock-server.conf | grep -q "Sweep_Penalty"'
check "config $config is 0640 root:knock-server" sh -c "[ \"\$(stat -c '%a %U %G' $config)\" = '640 root knock-server' ]"
check "the sample has no active door: --check refuses it" sh -c \
  "out=\$(knock-server --check -c $config 2>&1); echo \"\$out\"; ! knock-server --check -c $config >/dev/null 2>&1 &&
   echo \"\$out\" | grep -q 'no doors' && echo \"\$out\" | grep -q 'new-sequence'"
check "the install neither enabled nor started the service, and said what to do" sh -c \
  "! systemctl --quiet is-enabled knock-server && ! systemctl --quiet is-active knock-server &&
   grep -q 'systemctl enable --now knock-server' $install_log"
# Not under /tmp: systemd-tmpfiles empties it when the first service starts.
own=$(mktemp -d "$repo/target/pkgtest.XXXXXX")
chmod 755 "$own"
chown knock-server:knock-server "$own"
sed 's/^# \[openSSH\]/[openSSH]/; /^\[openSSH\]/,/^$/ s/^#\t/\t/' "$config" >"$own/published.conf"
check "--check refuses the sample's published sequence" sh -c \
  "out=\$(knock-server --check -c $own/published.conf 2>&1); echo \"\$out\"; echo \"\$out\" | grep -q 'is published' &&
   ! knock-server --check -c $own/published.conf >/dev/null 2>&1"
sequence=$(knock-server new-sequence 2>/dev/null)
cat >"$own/knock.conf" <<EOF
[options]
	LogFile = $own/knock-server.log
[test]
	Sequence    = $sequence
	Seq_Timeout = 10
	TCPFlags    = syn
	Start_Command = /bin/sh -c 'id -un > $own/opened'
EOF
check "--check passes a door from new-sequence ($sequence)" sh -c \
  "out=\$(knock-server --check -c $own/knock.conf 2>&1); echo \"\$out\"; echo \"\$out\" | grep -q '0 warning(s), no errors'"
# knock $1...: knocks the door's sequence on loopback.
knock() {
  # shellcheck disable=SC2086 # the sequence's hits are separate arguments
  knock-cli knock 127.0.0.1 ${sequence//,/ } >/dev/null 2>&1 || true
}
# Live on loopback, started as root without --user: it runs as knock-server, and the door opens.
knock-server -c "$own/knock.conf" -i lo >"$own/stderr" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q "starting up, listening on" "$own/stderr" 2>/dev/null && break; sleep 0.1; done
knock
for _ in $(seq 50); do [ -s "$own/opened" ] && break; sleep 0.1; done
check "a knock opens the door; its command ran as knock-server" sh -c \
  "cat $own/stderr; [ \"\$(cat $own/opened 2>/dev/null)\" = knock-server ] &&
   grep -q 'privileges dropped: running as user knock-server' $own/stderr"
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
check "systemd-analyze verify knock-server.service" systemd-analyze verify "$unit"
check "knock-server binary is the unit's" sh -c "grep -q '^ExecStart=/usr/sbin/knock-server ' $unit"
check "system user knock-server" getent passwd knock-server

# The service, as an admin runs it: a door on loopback whose command writes into the state directory (the
# only place the unit's sandbox lets it write).
state=/var/lib/knock-server
cat >"$config" <<EOF
[options]
	Interface = lo
[test]
	Sequence    = $sequence
	Seq_Timeout = 10
	TCPFlags    = syn
	Start_Command = /bin/sh -c 'id -un > $state/opened'
EOF
main_pid() { systemctl show -p MainPID --value knock-server; }
# opens: knocks, then waits for the door's command to have run as the service's user.
opens() {
  rm -f "$state/opened"
  for _ in $(seq 50); do systemctl --quiet is-active knock-server && break; sleep 0.1; done
  sleep 0.5 # the capture opens after the unit is active
  knock
  for _ in $(seq 50); do [ -s "$state/opened" ] && break; sleep 0.1; done
  [ "$(cat "$state/opened" 2>/dev/null)" = knock-server ] || { journalctl -u knock-server -n 20 --no-pager; return 1; }
}
check "systemctl enable --now knock-server" systemctl enable --now knock-server
check "the service opens the door" opens
before=$(main_pid)

echo "--- upgrade to $(dpkg-deb -f "${new[0]}" Version) (enabled, running)"
dpkg -i "${new[@]}"
check "after the upgrade the server is running again, restarted on the new binary" sh -c \
  "systemctl --quiet is-active knock-server && [ \"\$(systemctl show -p MainPID --value knock-server)\" != $before ] &&
   [ \"\$(readlink /proc/\$(systemctl show -p MainPID --value knock-server)/exe)\" = /usr/sbin/knock-server ]"
check "after the upgrade the service is still enabled" systemctl --quiet is-enabled knock-server
check "after the upgrade a knock opens the door" opens

echo "--- reinstall with a config that fails --check (running)"
before=$(main_pid)
cp "$config" "$own/good.conf"
printf '[broken]\n\tSequence = 0\n' >>"$config"
dpkg -i "${new[2]}" 2>&1 | tee "$own/reinstall.log"
check "a config that fails --check: the running server is not restarted, and postinst says why" sh -c \
  "systemctl --quiet is-active knock-server && [ \"\$(systemctl show -p MainPID --value knock-server)\" = $before ] &&
   grep -q 'does not pass --check' $own/reinstall.log"
cp "$own/good.conf" "$config"

echo "--- reinstall (disabled, stopped)"
systemctl disable --now knock-server >/dev/null 2>&1
dpkg -i "${new[2]}"
check "a disabled, stopped server stays stopped and disabled" sh -c \
  "! systemctl --quiet is-active knock-server && ! systemctl --quiet is-enabled knock-server"

echo "--- reinstall (masked)"
systemctl mask knock-server >/dev/null 2>&1
dpkg -i "${new[2]}"
check "a masked unit is left masked and stopped" sh -c \
  "[ \"\$(systemctl is-enabled knock-server 2>&1)\" = masked ] && ! systemctl --quiet is-active knock-server"
systemctl unmask knock-server >/dev/null 2>&1
systemctl enable --now knock-server >/dev/null 2>&1

echo "--- remove"
dpkg -r knock-server
check "remove: the server is stopped" sh -c "! systemctl --quiet is-active knock-server && ! pgrep -x knock-server"
check "remove: the config is kept (a conffile)" test -s "$config"
rm -rf "$own" "$install_log"

echo "--- purge"
dpkg -P "${packages[@]}"
trap - EXIT
check "purged: no package files left" sh -c '! ls /usr/bin/knock-cli /usr/bin/knock-gui /usr/sbin/knock-server \
  /usr/share/man/man1/knock-cli.1.gz /usr/share/applications/knock-gui.desktop /var/lib/knock-server \
  /var/log/knock-server '"$unit $config"' 2>/dev/null'
check "purged: no enable symlink or mask left" sh -c \
  '! ls /etc/systemd/system/knock-server.service /etc/systemd/system/*.wants/knock-server.service 2>/dev/null'
check "purged: no dpkg records" sh -c '! dpkg -l knock-cli knock-gui knock-server 2>/dev/null | grep -q "^[ir]"'
check "purged: system user removed" sh -c '! getent passwd knock-server'

if [ "$failures" -gt 0 ]; then
  echo "test-packages.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "test-packages.sh: all checks passed"
