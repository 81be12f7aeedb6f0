#!/usr/bin/env bash
# Packs the Windows downloads on Linux from knock-gui.exe and knock-cli.exe, into target/windows/ (under
# $CARGO_TARGET_DIR if set):
#   knock-windows-x86_64.zip   the two .exe files
#   knock-windows-x86_64.msi   an installer (packaging/windows/knock.wxs, built by wixl from Debian's msitools):
#                              Program Files\knock, a Start menu entry, and that folder on PATH (the CliPath
#                              feature: `msiexec /i ... REMOVE=CliPath` leaves PATH alone)
#   SHA256SUMS
# Usage: scripts/package-windows.sh [--profile release|dev] [--exes DIR] [--version V]
#   --profile   builds the .exe files with mingw-w64 (default release; dev for a quick check)
#   --exes DIR  packs the two .exe files in DIR instead of building them: the release workflow passes the
#               MSVC build that its windows-latest job built and tested, so what ships is what was tested
#   --version V the MSI's ProductVersion (default: the workspace's); check-platforms.sh builds a lower one
#               to check that a downgrade is refused
# Unsigned: SmartScreen warns on first start. scripts/check-platforms.sh installs the MSI under Wine (install,
# same-version reinstall, refused downgrade, uninstall).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
exes=
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
while (($#)); do
    case $1 in
        --profile) profile=${2:?"--profile needs release or dev"}; shift 2 ;;
        --exes) exes=${2:?"--exes needs a directory"}; shift 2 ;;
        --version) version=${2:?"--version needs a version"}; shift 2 ;;
        *) echo "usage: scripts/package-windows.sh [--profile release|dev] [--exes DIR] [--version V]" >&2; exit 2 ;;
    esac
done
case $profile in
    release) dir=release ;;
    dev) dir=debug ;;
    *) echo "package-windows: --profile must be release or dev, not $profile" >&2; exit 2 ;;
esac

target=x86_64-pc-windows-gnu
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
out=$target_dir/windows
# The MSI's AppUserModelID: client_gui::APP_ID (client-gui/src/lib.rs, whose test checks this line).
app_id=io.github.knock-toolkit.knock-gui

as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }
install_missing() { # Debian packages, through sudo when not root
    local pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg"
    done
}
install_missing wixl msitools zip
if [[ -z $exes ]]; then
    install_missing gcc-mingw-w64-x86-64
    rustup target add "$target" >/dev/null
    cargo build --locked --profile "$profile" --target "$target" -p client-cli -p client-gui
    exes=$target_dir/$target/$dir
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$exes/knock-gui.exe" "$exes/knock-cli.exe" "$stage/"
cp packaging/knock-gui.ico "$stage/knock.ico"
rm -rf "$out"
mkdir -p "$out"
(cd "$stage" && zip -q "$out/knock-windows-x86_64.zip" knock-gui.exe knock-cli.exe)
msi=$out/knock-windows-x86_64.msi
# wixl resolves File/@Source relative to the working directory.
(cd "$stage" && wixl -a x64 -D Version="$version" -o "$msi" "$OLDPWD/packaging/windows/knock.wxs")

# What wixl cannot express (see the top of knock.wxs), added as tables with msibuild. An .idt file is a
# table in Windows Installer's text format: column names, column types, the table name and its key, rows.
idt=$stage/idt
mkdir "$idt"
# The Start menu shortcut's System.AppUserModel.ID (MsiShortcutProperty, Windows Installer 5.0): the id
# knock-gui's toasts are shown under.
printf '%s\t%s\t%s\t%s\r\n' \
    MsiShortcutProperty Shortcut_ PropertyKey PropVariantValue \
    s72 s72 s0 s0 \
    MsiShortcutProperty MsiShortcutProperty '' '' \
    KnockGuiAppId KnockGuiShortcut System.AppUserModel.ID "$app_id" |
    sed 's/\t\t\r$/\r/' >"$idt/MsiShortcutProperty.idt"
# The install folder appended to the system PATH ('=' set on install, '-' removed on uninstall, '*' the
# system's variable; '[~];' appends to its value), owned by the CliPath component (the feature of that name).
printf '%s\t%s\t%s\t%s\r\n' \
    Environment Name Value Component_ \
    s72 l255 L255 s72 \
    Environment Environment '' '' \
    CliPath '=-*PATH' '[~];[INSTALLDIR]' CliPath |
    sed 's/\t\t\r$/\r/' >"$idt/Environment.idt"
# AllowSameVersionUpgrades: wixl's upgrade row (WIX_UPGRADE_DETECTED, attributes 1 = migrate feature states)
# gets msidbUpgradeAttributesVersionMaxInclusive (512), so the same version, rebuilt with a new ProductCode,
# replaces the installed one instead of being installed beside it.
msiinfo export "$msi" Upgrade | tr -d '\r' |
    awk -F'\t' 'BEGIN { OFS = "\t" } NR > 3 && $7 == "WIX_UPGRADE_DETECTED" { $5 = 513 } { printf "%s\r\n", $0 }' \
        >"$idt/Upgrade.idt"
grep -q $'\t513\t' "$idt/Upgrade.idt" || { echo "package-windows: wixl wrote no WIX_UPGRADE_DETECTED row" >&2; exit 1; }
(cd "$idt" && msibuild "$msi" -i MsiShortcutProperty.idt -i Environment.idt -i Upgrade.idt)

(cd "$out" && sha256sum knock-windows-x86_64.zip knock-windows-x86_64.msi >SHA256SUMS)
ls -l "$out"
echo "$out"
