#!/usr/bin/env bash
# Builds the .deb packages (scripts/package-deb.sh), installs them on this machine with dpkg -i, checks what
# each promises, then purges them and checks nothing of them is left. Needs root (dpkg). Used by .ci/run.
#   knock-cli     `knock-cli --version`; `man knock-cli` renders; completions for bash, zsh, fish installed
#   knock-gui     desktop-file-validate of the installed entry; icon files in the hicolor theme
#   knock-server  `knock-server --check` of the installed sample config; `systemd-analyze verify` of the
#                 installed unit; the system user exists
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
check "knock-server --check $config" knock-server --check -c "$config"
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
