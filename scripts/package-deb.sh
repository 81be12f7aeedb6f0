#!/usr/bin/env bash
# Builds the Debian packages knock-cli, knock-gui and knock-server from this tree into target/debian/
# ($CARGO_TARGET_DIR/debian when that is set) and prints their paths, one a line.
#   scripts/package-deb.sh [--no-build]     (--no-build: package the release binaries already built)
# DEB_VERSION=V overrides the packages' version (default: the crates'); scripts/test-packages.sh uses it
# to build an older and a newer package of the same tree and test the upgrade between them.
#
# Why dpkg-deb and not cargo-deb: cargo-deb would do Depends (dpkg-shlibdeps), conffiles and the systemd
# maintainer snippets, but it cannot do what knock-server's package needs beyond them: read the unit and the
# sample config from server-mini/ (one source of truth, rewritten to /usr/sbin), gate the restart after an
# upgrade on `knock-server --check` (a config that fails it would stop the server an admin reaches SSH
# through), and create the system user with the config's group. So this script calls the same Debian tools
# cargo-deb and debhelper call: dpkg-shlibdeps for Depends, and deb-systemd-helper / deb-systemd-invoke with
# the semantics of dh_installsystemd --no-enable (an install never enables or starts: the sample has no door)
# and its default --restart-after-upgrade: prerm stops only on remove, postinst restarts after an upgrade
# (only a unit that is enabled or running, never a masked one), the enable/disable state is kept, postrm
# masks on remove and purges the state on purge. `dpkg-deb` runs under fakeroot when not root, so files are
# owned by root in the archives. scripts/test-packages.sh checks all of it under systemd, and runs lintian.
#
#   knock-cli     /usr/bin/knock-cli, man pages (knock-cli man --out: knock-cli(1) and one per subcommand),
#                 bash/zsh/fish completions (dynamic: they complete profile names)
#   knock-gui     /usr/bin/knock-gui, .desktop entry, icon (SVG and 256x256 PNG) in the hicolor theme
#   knock-server  /usr/sbin/knock-server, its systemd unit (server-mini/knock-server.service, binary path
#                 rewritten from what the unit says to /usr/sbin), the sample config installed as the config
#                 path the unit names (a conffile, mode 0640, group of the unit's User=), a system user
#                 created in postinst. The sample's doors are commented out (their sequences are published),
#                 so the server does not start until a door is added: postinst says so. The service is not
#                 enabled or started by an install: add a door (`knock-server new-sequence`), then
#                 `systemctl enable --now knock-server`; an upgrade starts it again if it is enabled and the
#                 config passes `knock-server --check`.
# Depends come from dpkg-shlibdeps (versioned: a package refuses to install where its glibc symbols are
# missing), plus the libraries knock-gui loads at run time (winit/glutin dlopen X11, xkbcommon and GL).
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

version=${DEB_VERSION:-$("$release/knock-cli" --version | awk '{print $2}')}
arch=$(dpkg --print-architecture)
maintainer="knock toolkit maintainers <knock@example.org>"
homepage="https://example.org/knock"
# The changelog's date: the commit's, so the same tree makes the same packages.
changelog_date=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
work=$(mktemp -d "${TMPDIR:-/tmp}/knock-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The versioned Depends of binary $1, from dpkg-shlibdeps ("libc6 (>= 2.34), libpcap0.8 (>= 1.5.1)"). It
# wants a debian/control to read; a minimal one in a scratch directory is enough.
shlib_depends() {
  local scratch
  scratch=$(mktemp -d "$work/shlibdeps.XXXXXX")
  mkdir -p "$scratch/debian"
  printf 'Source: knock\n\nPackage: knock\nArchitecture: any\n' >"$scratch/debian/control"
  (cd "$scratch" && dpkg-shlibdeps -O -e"$1" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# Common files of every package: copyright, changelog, and the control file. $1 name, $2 root, $3 depends,
# $4 summary, $5 long description (wrapped here at 79 columns, as policy asks).
control() {
  local name=$1 root=$2 depends=$3 summary=$4 description
  description=$(fold -s -w 78 <<<"$5" | sed 's/ *$//; s/^/ /')
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
  cat >"$root/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: knock toolkit
Source: $homepage

Files: *
Copyright: 2025-2026 the knock toolkit authors
License: MIT or Apache-2.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
 associated documentation files (the "Software"), to deal in the Software without restriction,
 including without limitation the rights to use, copy, modify, merge, publish, distribute,
 sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
 NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
 OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
  # A native package's changelog (policy 12.7): one entry for the version packaged, dated by the commit.
  printf '%s (%s) unstable; urgency=medium\n\n  * Release %s of the knock toolkit.\n\n -- %s  %s\n' \
    "$name" "$version" "$version" "$maintainer" "$changelog_date" | gzip -9n >"$root/usr/share/doc/$name/changelog.gz"
  chmod 644 "$root/usr/share/doc/$name/changelog.gz"
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

# Lintian overrides of package $1 (root $2), each argument a line: a "# reason" line before each tag.
lintian_overrides() {
  local name=$1 root=$2
  shift 2
  mkdir -p "$root/usr/share/lintian/overrides"
  printf '%s\n' "$@" >"$root/usr/share/lintian/overrides/$name"
  chmod 644 "$root/usr/share/lintian/overrides/$name"
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
# knock-cli(1) and a page per subcommand (knock-cli-open(1), knock-cli-profile-add(1), ...).
mkdir -p "$root/usr/share/man/man1"
"$release/knock-cli" man --out "$root/usr/share/man/man1" >/dev/null
gzip -9n "$root"/usr/share/man/man1/*.1
# Completion scripts that ask knock-cli itself, so profile names complete (`knock-cli open <TAB>`).
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
lintian_overrides knock-gui "$root" \
  "# A desktop app started from its menu entry; its one option (--profiles-dir) is in --help and the README." \
  "no-manual-page [usr/bin/knock-gui]"
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
mkdir -p "$root/usr/share/man/man8" "$root/usr/share/man/man5"
help2man --no-info --section 8 --name "port-knock server reading knockd.conf" \
  --include server-mini/man/knock-server.8.h2m "$release/knock-server" |
  gzip -9n >"$root/usr/share/man/man8/knock-server.8.gz"
gzip -9n <server-mini/man/knock-server.conf.5 >"$root/usr/share/man/man5/knock-server.conf.5.gz"
chmod 644 "$root/usr/share/man/man5/knock-server.conf.5.gz"
lintian_overrides knock-server "$root" \
  "# Sequences are secrets: the config is readable by root and the service's group only." \
  "non-standard-file-perm 0640 != 0644 [etc/knock-server.conf]"
depends=$(shlib_depends "$root/usr/sbin/knock-server")
control knock-server "$root" "$depends, adduser" \
  "port-knock server reading knockd.conf, with knockd's failure modes fixed" \
  "knock-server watches the wire with libpcap, reads knockd.conf, and opens doors per source address; it tolerates retransmits and concurrent sources, bounds its state and runs door commands without blocking capture."
echo "$config_path" >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<EOF
#!/bin/sh
# Creates the service's system user and gives it the config (0640, its group) and the state and log
# directories. The systemd part is what dh_installsystemd --no-enable generates (with its default
# --restart-after-upgrade), plus one gate: after an upgrade the service is restarted only when the config
# passes --check; otherwise the running server keeps running (the old binary stays mapped) and postinst
# says why. An install never enables or starts the service: the sample has no active door.
set -e
if [ "\$1" = configure ]; then
  if ! getent passwd $service_user >/dev/null; then
    adduser --system --group --no-create-home --home /nonexistent --quiet $service_user
  fi
  install -d -m ${state_mode:-0700} -o $service_user -g $service_user $state_dir
  install -d -m ${logs_mode:-0750} -o $service_user -g $service_user $logs_dir
  # Only the directories change owner, never what is in them: the service user can write there, so a
  # recursive chown as root could be led through a hard link to any file (lintian's
  # recursive-privilege-change). Files in them are created by the service, or by `knock-server rotating
  # keygen`, which gives a file it creates as root to its directory's owner.
  if [ -f $config_path ]; then
    # A config kept from an older package may be 0644 and root's group: sequences are secrets.
    chmod o-rwx $config_path
    if [ "\$(stat -c %G $config_path)" = root ]; then chgrp $service_user $config_path; fi
  fi
fi
if [ "\$1" = configure ] || [ "\$1" = abort-upgrade ] || [ "\$1" = abort-deconfigure ] || [ "\$1" = abort-remove ]; then
  # Installed before (not a first install): keep the admin's choice.
  if deb-systemd-helper debian-installed knock-server.service; then
    # Only removes a mask that deb-systemd-helper made when the package was removed.
    deb-systemd-helper unmask knock-server.service >/dev/null || true
    if deb-systemd-helper --quiet was-enabled knock-server.service; then
      # Enabled by the admin: recreate its symlinks (the [Install] section may have changed).
      deb-systemd-helper enable knock-server.service >/dev/null || true
    fi
  fi
  # Track the symlinks (none on a first install), so purge removes whatever the admin enables later.
  deb-systemd-helper update-state knock-server.service >/dev/null || true
fi
if [ "\$1" = configure ] || [ "\$1" = abort-upgrade ] || [ "\$1" = abort-deconfigure ] || [ "\$1" = abort-remove ]; then
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    # \$2 is the version configured before: an upgrade restarts, an install starts. deb-systemd-invoke
    # acts only on a unit that is enabled (or running, for restart), never on a disabled or masked one.
    if [ -n "\$2" ]; then action=restart; else action=start; fi
    if check=\$(knock-server --check -c $config_path 2>&1); then
      deb-systemd-invoke \$action knock-server.service >/dev/null || true
    elif systemctl --quiet is-enabled knock-server.service 2>/dev/null || systemctl --quiet is-active knock-server.service 2>/dev/null; then
      echo "knock-server: $config_path does not pass --check, so the service was not \${action}ed:" >&2
      echo "\$check" | tail -n 3 | sed 's/^/  /' >&2
      echo "  fix it, then: systemctl restart knock-server" >&2
    fi
  fi
  if ! knock-server --check -c $config_path >/dev/null 2>&1 && ! systemctl --quiet is-enabled knock-server.service 2>/dev/null; then
    echo "knock-server: $config_path has no door yet, so the service is not enabled. Add a door" >&2
    echo "  (knock-server new-sequence prints a random sequence), then: systemctl enable --now knock-server" >&2
  fi
fi
exit 0
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
# Stops the service only when the package is removed. An upgrade leaves it running: postinst restarts it
# on the new binary (dh_installsystemd's --restart-after-upgrade), so a host reached through one of its
# doors never loses it during `apt upgrade`.
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  deb-systemd-invoke stop knock-server.service >/dev/null || true
fi
exit 0
EOF
cat >"$root/DEBIAN/postrm" <<EOF
#!/bin/sh
# As dh_installsystemd: remove masks the unit (its file is gone while the config stays), purge forgets
# its enable state. On purge the system user, the state and the logs go too (dpkg removes the conffile).
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
if [ "\$1" = remove ] && command -v deb-systemd-helper >/dev/null; then
  deb-systemd-helper mask knock-server.service >/dev/null || true
fi
if [ "\$1" = purge ]; then
  if command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper purge knock-server.service >/dev/null || true
    deb-systemd-helper unmask knock-server.service >/dev/null || true
  fi
  rm -rf $state_dir $logs_dir
  if getent passwd $service_user >/dev/null; then
    deluser --system --quiet $service_user >/dev/null || true
    getent group $service_user >/dev/null && delgroup --system --quiet $service_user >/dev/null || true
  fi
fi
exit 0
EOF
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
finish knock-server "$root"
