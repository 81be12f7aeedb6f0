#!/usr/bin/env bash
# Builds the .deb packages (scripts/package-deb.sh), installs them on this machine with dpkg -i, checks what
# each promises, then purges them and checks nothing of them is left. Needs root (dpkg). Used by .ci/run.
#   knock-cli     `knock-cli --version`; `man knock-cli` renders; completions for bash, zsh, fish installed
#   knock-gui     desktop-file-validate of the installed entry; icon files in the hicolor theme
#   knock-server  the installed sample config is 0640, group knock-server, and has no active door
#                 (`--check` refuses it: "no doors"); `--check` refuses the sample's published sequence and
#                 passes a door made with `knock-server new-sequence`; that door opens on a knock over
#                 loopback, its command running as the system user knock-server (the default when started
#                 as root); `systemd-analyze verify` of the installed unit; the system user exists
# Pass --no-build to package binaries already built by `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "test-packages.sh: needs root (dpkg -i); run with sudo" >&2; exit 1; }
for tool in dpkg-deb desktop-file-validate man systemd-analyze objdump; do
  command -v "$tool" >/dev/null || { echo "test-packages.sh: $tool missing: run scripts/install-deps.sh" >&2; exit 1; }
done

mapfile -t debs < <(scripts/package-deb.sh "$@")
[ "${#debs[@]}" -eq 3 ] || { echo "test-packages.sh: expected 3 packages, got: ${debs[*]}" >&2; exit 1; }
packages=(knock-cli knock-gui knock-server)
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

for deb in "${debs[@]}"; do
  echo "--- $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done
# Already installed (an earlier run, or by hand)? Start from nothing of ours.
cleanup
dpkg -i "${debs[@]}"

# knock-cli
check "knock-cli --version" sh -c 'knock-cli --version | grep -q "^knock-cli [0-9]"'
check "man knock-cli renders" sh -c 'MANPAGER=cat MANWIDTH=80 man knock-cli | grep -q "knock-cli - Port knocking"'
check "bash completion" test -s /usr/share/bash-completion/completions/knock-cli
check "zsh completion" grep -q "#compdef knock-cli" /usr/share/zsh/vendor-completions/_knock-cli
check "fish completion" grep -q "complete -c knock-cli" /usr/share/fish/vendor_completions.d/knock-cli.fish

# knock-gui
check "knock-gui installed" test -x /usr/bin/knock-gui
check "knock-gui --help" sh -c 'knock-gui --help | grep -q "usage: knock-gui"'
check "desktop-file-validate knock-gui.desktop" sh -c \
  'out=$(desktop-file-validate /usr/share/applications/knock-gui.desktop 2>&1); echo "$out"; [ -z "$out" ]'
check "icons" test -s /usr/share/icons/hicolor/scalable/apps/knock-gui.svg -a -s /usr/share/icons/hicolor/256x256/apps/knock-gui.png

# knock-server: the config path and binary as the installed unit names them.
unit=/usr/lib/systemd/system/knock-server.service
config=$(sed -n 's/^ExecStart=.*\(-c\|--config\)[ =]\([^ ]*\).*/\2/p' "$unit" | head -1)
check "config $config is 0640 root:knock-server" sh -c "[ \"\$(stat -c '%a %U %G' $config)\" = '640 root knock-server' ]"
check "the sample has no active door: --check refuses it" sh -c \
  "out=\$(knock-server --check -c $config 2>&1); echo \"\$out\"; ! knock-server --check -c $config >/dev/null 2>&1 &&
   echo \"\$out\" | grep -q 'no doors' && echo \"\$out\" | grep -q 'new-sequence'"
own=$(mktemp -d)
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
# Live on loopback, started as root without --user: it runs as knock-server, and the door opens.
knock-server -c "$own/knock.conf" -i lo >"$own/stderr" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q "starting up, listening on" "$own/stderr" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC2086 # the sequence's hits are separate arguments
knock-cli knock 127.0.0.1 ${sequence//,/ } >/dev/null 2>&1 || true
for _ in $(seq 50); do [ -s "$own/opened" ] && break; sleep 0.1; done
check "a knock opens the door; its command ran as knock-server" sh -c \
  "cat $own/stderr; [ \"\$(cat $own/opened 2>/dev/null)\" = knock-server ] &&
   grep -q 'privileges dropped: running as user knock-server' $own/stderr"
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
rm -rf "$own"
check "systemd-analyze verify knock-server.service" systemd-analyze verify "$unit"
check "knock-server binary is the unit's" sh -c "grep -q '^ExecStart=/usr/sbin/knock-server ' $unit"
check "system user knock-server" getent passwd knock-server

# Purge: nothing of ours left on disk, and the user is gone.
dpkg -P "${packages[@]}"
trap - EXIT
check "purged: no package files left" sh -c '! ls /usr/bin/knock-cli /usr/bin/knock-gui /usr/sbin/knock-server \
  /usr/share/man/man1/knock-cli.1.gz /usr/share/applications/knock-gui.desktop /var/lib/knock-server \
  /var/log/knock-server '"$unit $config"' 2>/dev/null'
check "purged: no dpkg records" sh -c '! dpkg -l knock-cli knock-gui knock-server 2>/dev/null | grep -q "^[ir]"'
check "purged: system user removed" sh -c '! getent passwd knock-server'

if [ "$failures" -gt 0 ]; then
  echo "test-packages.sh: $failures check(s) failed" >&2
  exit 1
fi
echo "test-packages.sh: all checks passed"
