#!/usr/bin/env bash
# Installs the Debian packages the workspace and its end-to-end tests need. Needs root (or sudo).
#   libpcap-dev  the pcap crate (lab captures; later knock-server)
#   knockd       real knockd and knock(1) as interop peers and benchmark baseline
#   tcpdump      captures on the server side of the lab
#   iproute2     ip netns / veth for the lab
#   iptables     DROP rules in the server namespace
#   iputils-ping lab smoke test
#   openssh-server  real sshd behind a knock gate in the lab (note: Debian enables ssh.service on install)
#   openssh-client  ssh and ssh-keygen for the lab's sshd tests
#   dbus         dbus-run-session: the private session bus of the keyring tests (scripts/with-keyring.sh)
#   gnome-keyring  a real Secret Service for client-gui's keyring tests (tests/secrets_keyring.rs)
#   libsecret-tools  secret-tool: the keyring tests cross-check entries with libsecret's own client
#   xclip        reads the X clipboard back in client-gui/tests/clipboard.rs (the app's Copy, end to end)
#   dunst        a real notification daemon (with dunstctl) for client-gui's tests/notify_daemon.rs (scripts/with-notifyd.sh)
#   xvfb         virtual X server for knock-gui's screenshot and benchmark scripts (Mesa software GL)
#   imagemagick  import/compare/identify/mogrify: scripts/gui-screenshot.sh takes and checks the screenshot
#   xdotool      finds the knock-gui window and clicks in it (gui-screenshot.sh, gui-bench.sh)
#   x11-utils    xdpyinfo: the GUI scripts wait with it until their Xvfb answers
#   libxkbcommon-x11-0  loaded at run time by knock-gui (winit) on X11: without it the window never opens
#   libxcursor1  loaded at run time by knock-gui (winit) on X11 for mouse cursors
#   hping3       single SYNs and spoofed-source floods against knock-server (tests/tests/server.rs, server-bench.sh)
#   nmap         a sequential SYN scan that completes a rising sequence (tests/tests/server.rs)
#   fwknop-server fwknop-client  real fwknopd and fwknop as SPA interop peers
#   nftables     nft: knock-server's nftables doors and their lab tests
#   curl         the nft lab tests connect from a chosen client address with it
#   bc           scripts/fleet-bench.sh computes its timings with it
#   desktop-file-utils  desktop-file-validate: scripts/test-packages.sh checks knock-gui's .desktop entry
#   man-db       man: scripts/test-packages.sh checks `man knock-cli` of the installed knock-cli package
#   systemd      systemd-analyze verify: scripts/test-packages.sh checks knock-server's installed unit
#   binutils     strip: scripts/package-deb.sh strips the packaged binaries
#   dpkg-dev     dpkg-shlibdeps: scripts/package-deb.sh computes versioned Depends from the libraries linked
#   help2man     scripts/package-deb.sh makes knock-server's man page from its --help
#   lintian      scripts/test-packages.sh runs it on the three packages: no errors allowed
#   fakeroot     scripts/package-deb.sh builds root-owned archives when not run as root
#   adduser      knock-server's postinst creates its system user
#   openssl      openssl s_server with a test CA: the HTTPS Date server of tests/tests/doctor_clock.rs
#   zsh fish     client-cli/tests/completions.rs: the completion scripts in the real shells (bash is always there)
#   python3      tests/reference/rotating.py, the independent rotating-sequence implementation the tests compare with
set -euo pipefail
packages=(pkg-config zsh fish openssl fwknop-server fwknop-client libpcap-dev nftables curl bc python3 knockd tcpdump iproute2 iptables iputils-ping openssh-server openssh-client dbus gnome-keyring libsecret-tools dunst xclip xvfb imagemagick xdotool x11-utils libxkbcommon-x11-0 libxcursor1 hping3 nmap desktop-file-utils man-db systemd binutils dpkg-dev help2man lintian fakeroot adduser)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
