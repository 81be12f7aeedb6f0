#!/usr/bin/env bash
# Builds the Windows downloads on Linux: knock-gui.exe and knock-cli.exe cross-compiled with mingw-w64,
# then, in target/windows/ (under $CARGO_TARGET_DIR if set):
#   knock-windows-x86_64.zip   the two .exe files
#   knock-windows-x86_64.msi   an installer (packaging/windows/knock.wxs, built by wixl from Debian's msitools):
#                              Program Files\knock and a Start menu entry; it does not change PATH
#   SHA256SUMS
# Usage: scripts/package-windows.sh [--profile release|dev]   (default release; dev for a quick check)
# Unsigned: SmartScreen warns on first start. scripts/check-platforms.sh installs the MSI under Wine, runs
# the installed knock-cli.exe and uninstalls it.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [[ ${1:-} == --profile ]]; then
    profile=${2:?"--profile needs release or dev"}
elif [[ -n ${1:-} ]]; then
    echo "usage: scripts/package-windows.sh [--profile release|dev]" >&2
    exit 2
fi
case $profile in
    release) dir=release ;;
    dev) dir=debug ;;
    *) echo "package-windows: --profile must be release or dev, not $profile" >&2; exit 2 ;;
esac

target=x86_64-pc-windows-gnu
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
out=$target_dir/windows
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

for pkg in gcc-mingw-w64-x86-64 wixl zip; do
    dpkg -s "$pkg" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg"
done
rustup target add "$target" >/dev/null

cargo build --locked --profile "$profile" --target "$target" -p client-cli -p client-gui

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$target_dir/$target/$dir/knock-gui.exe" "$target_dir/$target/$dir/knock-cli.exe" "$stage/"
rm -rf "$out"
mkdir -p "$out"
(cd "$stage" && zip -q "$out/knock-windows-x86_64.zip" knock-gui.exe knock-cli.exe)
# wixl resolves File/@Source relative to the working directory.
(cd "$stage" && wixl -a x64 -D Version="$version" -o "$out/knock-windows-x86_64.msi" \
    "$OLDPWD/packaging/windows/knock.wxs")
(cd "$out" && sha256sum knock-windows-x86_64.zip knock-windows-x86_64.msi >SHA256SUMS)
ls -l "$out"
echo "$out"
