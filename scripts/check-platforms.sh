#!/usr/bin/env bash
# Compiles the workspace for macOS and Windows on this Debian machine, and runs what Wine can run.
#
#   1. `cargo clippy --workspace --all-targets -- -D warnings` for x86_64-apple-darwin, aarch64-apple-darwin
#      and x86_64-pc-windows-gnu (what the macOS and Windows CI jobs' clippy would reject, e.g. code that is
#      dead on one OS, fails here first), and `cargo check --workspace --all-targets` for
#      x86_64-pc-windows-msvc: every crate of ours is type-checked for that OS (cfg gates, per-OS modules).
#   2. `cargo build --workspace --all-targets` for x86_64-pc-windows-gnu (mingw-w64 links real .exe files,
#      with their resources: icon, manifest, version info, checked with objdump),
#      then `cargo test` of that build under Wine, minus the tests listed in WINE_SKIPS with the reason, and
#      knock-cli.exe under Wine against loopback: a connect knock whose SYNs tcpdump counts (one per hit),
#      and `open` whose verify port answers.
#
# What cannot be done here, and why:
# - Linking for macOS: Apple's SDK (frameworks, libSystem) is not redistributable and no package has it, so
#   macOS is checked, not built. ring's C code is compiled for macOS with zig (PyPI `ziglang`, which ships
#   the Darwin libc headers), driven by cargo-zigbuild (PyPI); nothing is linked.
# - MSVC: cl.exe and the Windows SDK are not redistributable either. ring's C code is compiled for the
#   MSVC target with Debian's clang and three stand-in headers (string.h, stdlib.h, assert.h: the only
#   ones ring includes, declaring the two functions it calls); nothing is linked. The mingw build below is
#   the same Rust code (nothing of ours depends on target_env).
# - Under Wine, the sockets are the host's (Linux) kernel: the Windows TCP stack's own behaviour (SYN
#   retries after a RST, SIO_TCP_INITIAL_RTO) is proven only by .github/workflows/ci.yml on real Windows.
#
#   3. knock-gui.exe under Wine and Xvfb: a start-up error shows a message box; scripts/package-windows.sh
#      (dev profile): under Wine's msiexec, the MSI is installed (knock-cli.exe runs, PATH has its folder),
#      the same version rebuilt installs over it leaving one Add/Remove Programs entry, an older version
#      is refused, and the uninstall leaves no files, entry or PATH entry.
#
# Idempotent: installs the rustup targets, the Debian packages (gcc-mingw-w64-x86-64, wine, clang, llvm,
# tcpdump, python3-venv, xvfb, xdotool, wixl, msitools, zip) and a Python venv with ziglang + cargo-zigbuild under $KNOCK_PLATFORMS_CACHE
# (default ~/.cache/knock-platforms) only when missing. Fails on any compile error or failed test.
# Runs as any user: what needs root (apt-get for missing packages, tcpdump) goes through sudo when the script
# is not root (the GitHub job runs it as the runner's user; .ci/run runs it as root). Uses $CARGO_TARGET_DIR
# if set.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${KNOCK_PLATFORMS_CACHE:-$HOME/.cache/knock-platforms}
ZIG_VENV=$CACHE/zig-venv
export WINEPREFIX=${WINEPREFIX:-$CACHE/wineprefix}
export WINEDEBUG=-all
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
GNU=x86_64-pc-windows-gnu

step() { printf '\n== %s\n' "$*"; }
as_root() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }
# The same as a command prefix, for a background process whose $! must be the process itself (or sudo,
# which relays signals to it), not a subshell running a function.
SUDO=()
((EUID == 0)) || SUDO=(sudo)

# ---------------------------------------------------------------------------------------------- set-up
step "set-up: rustup targets, Debian packages, zig"
rustup target add x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc "$GNU" >/dev/null
missing=()
for pkg in gcc-mingw-w64-x86-64 wine wine64 clang llvm tcpdump python3-venv xvfb xdotool wixl msitools zip; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
if [[ ! -x $ZIG_VENV/bin/cargo-zigbuild ]]; then
    python3 -m venv "$ZIG_VENV"
    "$ZIG_VENV/bin/pip" install -q 'ziglang==0.17.*' 'cargo-zigbuild==0.24.*'
fi
LLVM_LIB=$(command -v llvm-lib || ls /usr/bin/llvm-lib-* | sort -V | tail -1)

# ring's headers for the MSVC target (see the top of this file).
MSVC_SHIM=$CACHE/msvc-shim
mkdir -p "$MSVC_SHIM"
printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\n' \
    >"$MSVC_SHIM/string.h"
: >"$MSVC_SHIM/stdlib.h"
printf '#define assert(x) ((x) ? (void)0 : __builtin_trap())\n' >"$MSVC_SHIM/assert.h"

# ------------------------------------------------------------------------------ 1. clippy and check
for target in x86_64-apple-darwin aarch64-apple-darwin; do
    step "cargo clippy --workspace --all-targets --target $target -- -D warnings (ring's C through zig)"
    PATH="$ZIG_VENV/bin:$PATH" cargo-zigbuild clippy --workspace --all-targets --locked --target "$target" -- -D warnings
done
step "cargo clippy --workspace --all-targets --target $GNU -- -D warnings"
cargo clippy --workspace --all-targets --locked --target "$GNU" -- -D warnings
step "cargo check --workspace --all-targets --target x86_64-pc-windows-msvc (ring's C through clang)"
CC_x86_64_pc_windows_msvc=clang AR_x86_64_pc_windows_msvc=$LLVM_LIB \
    CFLAGS_x86_64_pc_windows_msvc="-isystem $MSVC_SHIM" \
    cargo check --workspace --all-targets --locked --target x86_64-pc-windows-msvc

# ------------------------------------------------------------------------- 2. Windows build and Wine
step "cargo build --workspace --all-targets --target $GNU (mingw-w64)"
cargo build --workspace --all-targets --locked --target "$GNU"

step "Windows resources of knock-gui.exe and knock-cli.exe (packaging/windows/resources.rs)"
# Resource type ids: 3 icon, 0e group icon, 10 version info, 18 manifest (the type level of objdump's tree).
for exe in knock-gui knock-cli; do
    file=$TARGET_DIR/$GNU/debug/$exe.exe
    types=$(x86_64-w64-mingw32-objdump -p "$file" |
        sed -n 's/^[0-9a-f]\{3\}   Entry: ID: 0x0000\([0-9a-f]\{2\}\),.*/\1/p' | sort | tr '\n' ' ')
    echo "$exe.exe resource types: $types"
    [[ $types == "03 0e 10 18 " ]] || { echo "$exe.exe lacks the icon, version info or manifest"; exit 1; }
    for setting in PerMonitorV2 longPathAware Microsoft.Windows.Common-Controls; do
        grep -q "$setting" "$file" || { echo "$exe.exe: its manifest has no $setting"; exit 1; }
    done
done

step "Wine prefix"
if [[ ! -f $WINEPREFIX/system.reg ]]; then
    wineboot --init >/dev/null 2>&1 || true
    wineserver -w
fi
# Rust's std (1.78+) imports ProcessPrng from bcryptprimitives.dll, which Wine 8 (Debian 12) lacks: a
# one-function stand-in over BCryptGenRandom, the same system RNG.
BCP=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
if [[ ! -f $BCP ]]; then
    src=$(mktemp -d)
    cat >"$src/bcp.c" <<'EOF'
#include <windows.h>
#include <bcrypt.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
EOF
    printf 'LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n' >"$src/bcp.def"
    x86_64-w64-mingw32-gcc -shared -O2 -static-libgcc -o "$BCP" "$src/bcp.c" "$src/bcp.def" -lbcrypt
    rm -rf "$src"
fi

# Tests that cannot pass under Wine, each with the reason (they run on real Windows in ci.yml).
WINE_SKIPS=(
    "client-core --lib|store::tests::case_only_rename_changes_the_spelling|Wine keeps the old spelling when a file is renamed to itself in another case on a Linux directory (NTFS changes it)"
    "client-core --test engine|a_failing_hit_ends_the_knock_and_names_the_hit|Wine lets a UDP socket bind to an address the host does not have (its interface-binding emulation); Windows refuses with WSAEADDRNOTAVAIL"
    "client-gui --test ui|rows_hold_their_shape_with_a_thousand_profiles_in_a_small_window|does not finish within 300 s under Wine (1000 profiles; why Wine is this slow here is not investigated)"
    "client-gui --test keyboard|*|under Wine the binary ends without printing a result (seen 2026-12-07 with its 1000-profile test skipped; not investigated); it runs on Linux and on the Windows CI job"
    "knock-e2e --test rotating_vectors|*|runs tests/reference/rotating.py with python3, which is not on Wine's PATH"
)
skips_for() { # $1 = "package --kind [name]": the --skip arguments for that test binary
    local entry
    for entry in "${WINE_SKIPS[@]}"; do
        [[ ${entry%%|*} == "$1" ]] || continue
        local test=${entry#*|}
        test=${test%%|*}
        [[ $test == '*' ]] && echo "__skip_all__" || printf -- '--skip %s --exact ' "$test"
    done
}

step "cargo test --target $GNU under Wine"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="timeout 300 wine"
# Every test binary of the workspace for this target, run one by one so skips apply to the right one.
mapfile -t binaries < <(cargo test --workspace --locked --target "$GNU" --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        t = m["target"]
        kind = "--lib" if "lib" in t["kind"] else ("--bin " + t["name"]) if "bin" in t["kind"] else ("--test " + t["name"])
        url, _, fragment = m["package_id"].partition("#")
        package = fragment.split("@")[0] if "@" in fragment else url.rstrip("/").split("/")[-1]
        print(package + " " + kind + "\t" + m["executable"])
')
passed=0
failed=0
failures=()
for line in "${binaries[@]}"; do
    name=${line%%$'\t'*}
    exe=${line#*$'\t'}
    # --exact applies to every --skip: the skips name whole tests.
    skip=$(skips_for "$name")
    if [[ $skip == *__skip_all__* ]]; then
        echo "-- $name: skipped under Wine (see the list below)"
        continue
    fi
    echo "-- $name"
    # shellcheck disable=SC2086 # the skip arguments are words
    if out=$(cd "$(dirname "$exe")" && timeout 300 wine "$exe" $skip 2>&1); then :; else
        failures+=("$name")
    fi
    grep -E '^test .* (FAILED|ok|ignored)$|^test result' <<<"$out" | grep -v ' ok$' || true
    if ! grep -q '^test result' <<<"$out"; then
        echo "$out" | tail -20
        failures+=("$name (no result: crashed or timed out)")
    fi
    p=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' <<<"$out" | head -1)
    f=$(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' <<<"$out" | head -1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
done

step "knock-cli.exe under Wine against loopback"
CLI=$TARGET_DIR/$GNU/debug/knock-cli.exe
work=$(mktemp -d)
cleanup() {
    [[ -n ${xvfb:-} ]] && kill "$xvfb" 2>/dev/null || true
    [[ -n ${listener:-} ]] && kill "$listener" 2>/dev/null || true
    [[ -n ${capture:-} ]] && "${SUDO[@]}" kill "$capture" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# A verify port that answers (python's listener), and three knock ports nobody listens on.
python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 47022)); s.listen(64)
s.settimeout(60)
end = time.time() + 60
while time.time() < end:
    try: c, _ = s.accept(); c.close()
    except OSError: pass
' &
listener=$!
"${SUDO[@]}" tcpdump -i lo -n -w "$work/knock.pcap" 'tcp and dst host 127.0.0.1 and dst portrange 47001-47003' 2>/dev/null &
capture=$!
sleep 2
wine_ok=true
wine "$CLI" knock -m connect -v 127.0.0.1 47001 47002 47003 || { echo "knock-cli.exe knock failed"; wine_ok=false; }
wine "$CLI" --profiles-dir "$(winepath -w "$work" 2>/dev/null)" profile add loop --host 127.0.0.1 \
    --open 47001,47002,47003 --verify-port 47022 --method connect >/dev/null ||
    { echo "knock-cli.exe profile add failed"; wine_ok=false; }
open_json=$(wine "$CLI" --profiles-dir "$(winepath -w "$work" 2>/dev/null)" open loop --force --json) || true
echo "$open_json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
p = doc["profiles"][0]
print("open:", p["outcome"], "exit", doc["exit_code"], "verify", p["attempts"][-1]["verify"])
sys.exit(0 if p["outcome"] == "opened" and doc["exit_code"] == 0 else 1)
' || { echo "knock-cli.exe open did not report opened: $open_json"; wine_ok=false; }
sleep 3 # a retransmitted SYN would come about 1 s later
"${SUDO[@]}" kill "$capture"
wait "$capture" 2>/dev/null || true
capture=
for port in 47001 47002 47003; do
    syns=$(tcpdump -n -r "$work/knock.pcap" "dst port $port and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn" 2>/dev/null | wc -l)
    echo "port $port: $syns SYN(s) (one knock + one open: 2 expected)"
    [[ $syns -eq 2 ]] || wine_ok=false
done

step "knock-gui.exe under Wine: a start-up error is shown in a message box (no console on Windows)"
for n in $(seq 140 199); do [[ -e /tmp/.X11-unix/X$n || -e /tmp/.X$n-lock ]] || break; done
Xvfb ":$n" -screen 0 800x600x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
sleep 2
gui_rc=$work/gui-rc
(rc=0
    DISPLAY=":$n" timeout 60 wine "$TARGET_DIR/$GNU/debug/knock-gui.exe" --bogus-argument 2>"$work/gui-err" || rc=$?
    echo "$rc" >"$gui_rc") &
box=
for _ in $(seq 60); do
    box=$(DISPLAY=":$n" xdotool search --onlyvisible --name 'knock-gui cannot start' 2>/dev/null | tail -1) &&
        [[ -n $box ]] && break
    sleep 0.5
done
if [[ -n $box ]]; then
    echo "message box shown (X window $box); pressing OK"
else
    echo "no message box appeared"
    wine_ok=false
fi
# The box may exist a moment before it takes keys: press OK again until the program has exited.
for _ in $(seq 40); do
    [[ -s $gui_rc ]] && break
    [[ -z $box ]] || DISPLAY=":$n" xdotool key Return 2>/dev/null || true
    sleep 1
done
echo "knock-gui.exe exit code: $(cat "$gui_rc" 2>/dev/null) (2 expected); stderr: $(cat "$work/gui-err")"
[[ $(cat "$gui_rc" 2>/dev/null) == 2 ]] || wine_ok=false
kill "$xvfb" 2>/dev/null || true
xvfb=

step "Windows installer: scripts/package-windows.sh --profile dev; install, reinstall, downgrade, uninstall under Wine"
# Wine's msiexec runs the MSI's own tables (upgrade rows, launch condition, Environment), not Windows
# Installer: the same steps on real Windows are the release workflow's windows-msi job.
arp_entries() { # how many "knock" entries Add/Remove Programs has
    wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s 2>/dev/null | tr -d '\r' |
        grep -c 'DisplayName    REG_SZ    knock$' || true
}
ENV_KEY='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
system_path() { wine reg query "$ENV_KEY" /v PATH 2>/dev/null | tr -d '\r' | sed -n 's/.*REG_EXPAND_SZ *//p'; }
msi_check() { # $1 = what is checked, then the command that checks it
    local what=$1
    shift
    if "$@"; then echo "MSI: $what: ok"; else echo "MSI: $what: FAILED"; wine_ok=false; fi
}
knock_on_path() { [[ $(system_path) == *'C:\Program Files\knock\'* ]]; }
refused() { ! "$@"; }
path_before=$(system_path)
scripts/package-windows.sh --profile dev >/dev/null
cp "$TARGET_DIR/windows/knock-windows-x86_64.msi" "$work/knock.msi"
# The same version rebuilt (a new ProductCode, as any rebuild), and an older version.
scripts/package-windows.sh --exes "$TARGET_DIR/$GNU/debug" >/dev/null
cp "$TARGET_DIR/windows/knock-windows-x86_64.msi" "$work/knock-rebuilt.msi"
scripts/package-windows.sh --exes "$TARGET_DIR/$GNU/debug" --version 0.0.1 >/dev/null
cp "$TARGET_DIR/windows/knock-windows-x86_64.msi" "$work/knock-older.msi"
installed="$WINEPREFIX/drive_c/Program Files/knock"
msi_check "installed" wine msiexec /i "$(winepath -w "$work/knock.msi")" /qn
version_line=$(wine 'C:\Program Files\knock\knock-cli.exe' --version 2>&1) || wine_ok=false
echo "installed knock-cli.exe --version: $version_line"
msi_check "knock-gui.exe installed" test -f "$installed/knock-gui.exe"
msi_check "the install folder is on the system PATH (the CliPath feature)" knock_on_path
msi_check "the same version, rebuilt, installs over it" wine msiexec /i "$(winepath -w "$work/knock-rebuilt.msi")" /qn
msi_check "one Add/Remove Programs entry after that reinstall" test "$(arp_entries)" = 1
msi_check "an older version is refused" refused wine msiexec /i "$(winepath -w "$work/knock-older.msi")" /qn
msi_check "the installed version is still there" test "$(arp_entries)" = 1 -a -f "$installed/knock-cli.exe"
msi_check "uninstalled" wine msiexec /x "$(winepath -w "$work/knock-rebuilt.msi")" /qn
msi_check "no files and no Add/Remove Programs entry left" test ! -e "$installed/knock-cli.exe" -a "$(arp_entries)" = 0
msi_check "the PATH entry is removed" refused knock_on_path
# Wine's msi leaves the ';' it appended; the prefix is reused, so its PATH is put back as it was.
wine reg add "$ENV_KEY" /v PATH /t REG_EXPAND_SZ /d "$path_before" /f >/dev/null

step "summary"
echo "skipped under Wine (they need a real Windows):"
for entry in "${WINE_SKIPS[@]}"; do
    IFS='|' read -r bin test why <<<"$entry"
    echo "  $bin $test: $why"
done
if ((${#failures[@]})); then
    printf 'failed under Wine: %s\n' "${failures[@]}"
fi
$wine_ok || echo "knock-cli.exe under Wine: FAILED (see above)"
echo "wine: $passed passed, $failed failed"
((${#failures[@]} == 0)) && $wine_ok
