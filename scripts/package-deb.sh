#!/usr/bin/env bash
# Builds the Debian packages knock-cli, knock-gui and knock-server from this tree into target/debian/
# ($CARGO_TARGET_DIR/debian when that is set) and prints their paths, one a line.
#   scripts/package-deb.sh [--no-build]     (--no-build: package the release binaries already built)
#
# Why dpkg-deb and not cargo-deb: cargo-deb reads its file lists from [package.metadata.deb] in each crate's
# Cargo.toml, and the server's files (server-mini/) are owned and changed by its own work; a script that reads
# the unit and the sample config as they are keeps one source of truth. Run `dpkg-deb` under fakeroot when
# not root, so files are owned by root in the archives.
#
#   knock-cli     /usr/bin/knock-cli, man page (knock-cli man, clap_mangen), bash/zsh/fish completions
#   knock-gui     /usr/bin/knock-gui, .desktop entry, icon (SVG and 256x256 PNG) in the hicolor theme
#   knock-server  /usr/sbin/knock-server, its systemd unit (server-mini/knock-server.service, binary path
#                 rewritten from what the unit says to /usr/sbin), the sample config installed as the config
#                 path the unit names (a conffile, mode 0640, group of the unit's User=), a system user
#                 created in postinst. The sample's doors are commented out (their sequences are published),
#                 so the server does not start until a door is added: postinst says so. The service is not
#                 enabled or started by an install: add a door (`knock-server new-sequence`), then
#                 `systemctl enable --now knock-server`; an upgrade starts it again if it is enabled and the
#                 config passes `knock-server --check`.
# Depends are computed like dpkg-shlibdeps does: the package owning each shared library the binary needs,
# plus the libraries knock-gui loads at run time (winit/glutin dlopen X11, xkbcommon and GL).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 64 ;;
esac

target_dir=$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$repo/target")
release="$target_dir/release"
out="$target_dir/debian"
if [ "$build" -eq 1 ]; then
  cargo build --release --locked -p client-cli -p client-gui -p server-mini >&2
fi
for bin in knock-cli knock-gui knock-server; do
  [ -x "$release/$bin" ] || { echo "package-deb.sh: $release/$bin is not built (run without --no-build)" >&2; exit 1; }
done

version=$("$release/knock-cli" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
maintainer="knock toolkit maintainers <knock@example.org>"
homepage="https://example.org/knock"
license="MIT OR Apache-2.0"
work=$(mktemp -d "${TMPDIR:-/tmp}/knock-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The packages that own the shared libraries $1 links, as a Depends list ("libc6, libpcap0.8").
shlib_depends() {
  local lib path pkg deps=()
  for lib in $(objdump -p "$1" | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x32|AArch64|64bit/ {print $NF; exit}')
    [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
    [ -n "$path" ] || { echo "package-deb.sh: no installed library $lib (needed by $1)" >&2; exit 1; }
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
      pkg=$(dpkg -S "$path" | head -1 | cut -d: -f1)
    [ -n "$pkg" ] || { echo "package-deb.sh: no package owns $path" >&2; exit 1; }
    deps+=("$pkg")
  done
  printf '%s\n' "${deps[@]}" | sort -u | paste -sd, - | sed 's/,/, /g'
}

# Common files of every package: copyright, and the control file. $1 name, $2 root, $3 depends, $4 summary,
# $5 long description (one line).
control() {
  local name=$1 root=$2 depends=$3 summary=$4 description=$5
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
  cat >"$root/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: knock toolkit
Source: $homepage

Files: *
Copyright: the knock toolkit authors
License: $license
EOF
  cat >"$root/DEBIAN/control" <<EOF
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: net
Priority: optional
Homepage: $homepage
Description: $summary
 $description
EOF
}

# Installs a file with a mode, creating its directory.
put() { install -D -m "$1" "$2" "$3"; }

finish() {
  local name=$1 root=$2 deb="$out/${1}_${version}_${arch}.deb"
  find "$root" -type d -exec chmod 755 {} +
  if [ "$(id -u)" -eq 0 ]; then
    dpkg-deb --root-owner-group --build "$root" "$deb" >&2
  else
    fakeroot dpkg-deb --build "$root" "$deb" >&2
  fi
  echo "$deb"
}

# --- knock-cli
root="$work/knock-cli"
put 755 "$release/knock-cli" "$root/usr/bin/knock-cli"
strip --strip-unneeded "$root/usr/bin/knock-cli"
mkdir -p "$root/usr/share/man/man1"
"$release/knock-cli" man | gzip -9n >"$root/usr/share/man/man1/knock-cli.1.gz"
mkdir -p "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
"$release/knock-cli" completions bash >"$root/usr/share/bash-completion/completions/knock-cli"
"$release/knock-cli" completions zsh >"$root/usr/share/zsh/vendor-completions/_knock-cli"
"$release/knock-cli" completions fish >"$root/usr/share/fish/vendor_completions.d/knock-cli.fish"
depends=$(shlib_depends "$root/usr/bin/knock-cli")
control knock-cli "$root" "$depends" \
  "port knocking client, a knock(1) drop-in with profiles, SPA, exit codes and JSON" \
  "knock-cli sends knock sequences (raw or connect TCP hits, UDP) and fwknop SPA packets, opens saved host profiles with verification and retries, and reports results as exit codes and JSON."
finish knock-cli "$root"

# --- knock-gui
root="$work/knock-gui"
put 755 "$release/knock-gui" "$root/usr/bin/knock-gui"
strip --strip-unneeded "$root/usr/bin/knock-gui"
put 644 packaging/knock-gui.desktop "$root/usr/share/applications/knock-gui.desktop"
put 644 packaging/knock-gui.svg "$root/usr/share/icons/hicolor/scalable/apps/knock-gui.svg"
put 644 packaging/knock-gui.png "$root/usr/share/icons/hicolor/256x256/apps/knock-gui.png"
# Loaded with dlopen by winit (X11, cursors, keyboard) and glutin (OpenGL/EGL): not in the ELF's NEEDED.
runtime="libx11-6, libxcursor1, libxrandr2, libxi6, libxkbcommon-x11-0, libxkbcommon0, libgl1, libegl1"
depends=$(shlib_depends "$root/usr/bin/knock-gui")
control knock-gui "$root" "$depends, $runtime" \
  "desktop app for port knocking and SPA with saved host profiles" \
  "knock-gui opens doors on servers by port knocking (knockd) and Single Packet Authorization (fwknop) from saved profiles, with live progress, verification and keys kept in the system keyring."
finish knock-gui "$root"

# --- knock-server: paths come from the unit and the sample config as the server's files say them.
unit=server-mini/knock-server.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" | head -1)
unit_binary=$(awk '{print $1}' <<<"$exec_start")
config_path=$(sed -n 's/.*\(-c\|--config\)[ =]\([^ ]*\).*/\2/p' <<<"$exec_start")
[ -n "$unit_binary" ] && [ -n "$config_path" ] ||
  { echo "package-deb.sh: cannot read the binary and -c CONFIG from ExecStart= in $unit" >&2; exit 1; }
service_user=$(sed -n 's/^User=//p' "$unit" | head -1)
service_user=${service_user:-knock-server}
# The directories systemd makes for the unit (StateDirectory=, LogsDirectory=) are created at install time
# too, so the sample's LogFile opens and `knock-server --check` passes before the service first starts.
state_dir=/var/lib/$(sed -n 's/^StateDirectory=//p' "$unit" | head -1)
state_mode=$(sed -n 's/^StateDirectoryMode=//p' "$unit" | head -1)
logs_dir=/var/log/$(sed -n 's/^LogsDirectory=//p' "$unit" | head -1)
logs_mode=$(sed -n 's/^LogsDirectoryMode=//p' "$unit" | head -1)
root="$work/knock-server"
put 755 "$release/knock-server" "$root/usr/sbin/knock-server"
strip --strip-unneeded "$root/usr/sbin/knock-server"
# Debian packages never install into /usr/local: the unit's binary path becomes /usr/sbin/knock-server.
mkdir -p "$root/usr/lib/systemd/system"
sed "s#$unit_binary#/usr/sbin/knock-server#g" "$unit" >"$root/usr/lib/systemd/system/knock-server.service"
chmod 644 "$root/usr/lib/systemd/system/knock-server.service"
# Sequences are secrets: the config is not world-readable (postinst gives its group to the service user).
put 640 server-mini/knock-server.conf.sample "$root$config_path"
put 644 server-mini/knock-server.conf.sample "$root/usr/share/doc/knock-server/examples/knock-server.conf.sample"
depends=$(shlib_depends "$root/usr/sbin/knock-server")
control knock-server "$root" "$depends, adduser" \
  "port-knock server reading knockd.conf, with knockd's failure modes fixed" \
  "knock-server watches the wire with libpcap, reads knockd.conf, and opens doors per source address; it tolerates retransmits and concurrent sources, bounds its state and runs door commands without blocking capture."
echo "$config_path" >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<EOF
#!/bin/sh
# Creates the service's system user and gives it the config (0640, its group) and the state and log
# directories. An install does not enable the service: the sample has no active door. An upgrade starts
# an enabled service again (prerm stopped it) when the config passes --check, and says why not otherwise.
set -e
if [ "\$1" = configure ]; then
  if ! getent passwd $service_user >/dev/null; then
    adduser --system --group --no-create-home --home /nonexistent --quiet $service_user
  fi
  install -d -m ${state_mode:-0700} -o $service_user -g $service_user $state_dir
  install -d -m ${logs_mode:-0750} -o $service_user -g $service_user $logs_dir
  # Files an older package's root service (or a root keygen) left there: the service reads them as its user.
  chown -R $service_user:$service_user $state_dir $logs_dir
  if [ -f $config_path ]; then
    # A config kept from an older package may be 0644 and root's group: sequences are secrets.
    chmod o-rwx $config_path
    if [ "\$(stat -c %G $config_path)" = root ]; then chgrp $service_user $config_path; fi
  fi
  ready=yes
  if ! check=\$(/usr/sbin/knock-server --check -c $config_path 2>&1); then
    ready=no
    echo "knock-server: $config_path is not ready, so the service will not start:" >&2
    echo "\$check" | tail -n 3 | sed 's/^/  /' >&2
    echo "  add a door (knock-server new-sequence prints a random sequence), then" >&2
    echo "  systemctl enable --now knock-server" >&2
  fi
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    # An upgrade (\$2: the old version): prerm stopped an enabled service; start it again.
    if [ -n "\$2" ] && [ \$ready = yes ] && systemctl is-enabled --quiet knock-server 2>/dev/null; then
      systemctl start knock-server || true
    fi
  fi
fi
exit 0
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops a running service before its binary goes away.
set -e
if [ -d /run/systemd/system ] && systemctl is-active --quiet knock-server 2>/dev/null; then
  systemctl stop knock-server || true
fi
exit 0
EOF
cat >"$root/DEBIAN/postrm" <<EOF
#!/bin/sh
# On purge, the system user, the state and the logs go too (dpkg removes the conffile).
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
if [ "\$1" = purge ]; then
  rm -rf $state_dir $logs_dir
fi
if [ "\$1" = purge ] && getent passwd $service_user >/dev/null; then
  deluser --system --quiet $service_user >/dev/null || true
  getent group $service_user >/dev/null && delgroup --system --quiet $service_user >/dev/null || true
fi
exit 0
EOF
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
finish knock-server "$root"
