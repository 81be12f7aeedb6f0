#!/usr/bin/env bash
# Fuzzes each of server-mini's cargo-fuzz targets briefly (CI): packet, knockd_conf and spa, each for
# FUZZ_SECS seconds (default 20) from its committed seeds (server-mini/fuzz/seeds/<target>), new inputs in
# the git-ignored corpus/<target>. Fails on any crash, leak or timeout libFuzzer reports (the input is in
# server-mini/fuzz/artifacts/<target>/; see server-mini/fuzz/README.md to reproduce and minimise it).
# Installs cargo-fuzz (pinned) when it is missing. cargo fuzz passes -Z flags to rustc: on a stable
# toolchain RUSTC_BOOTSTRAP=1 allows them.
#   FUZZ_SECS=N        seconds per target (default 20)
#   FUZZ_TARGETS="a b" the targets to run (default: packet knockd_conf spa)
set -euo pipefail
cd "$(dirname "$0")/../server-mini/fuzz"
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
export RUSTC_BOOTSTRAP=1
secs="${FUZZ_SECS:-20}"
targets="${FUZZ_TARGETS:-packet knockd_conf spa}"
# Build all targets first, so the time limit below is fuzzing only.
cargo fuzz build
for target in $targets; do
    mkdir -p "corpus/$target"
    echo "== fuzz $target: ${secs} s from seeds/$target"
    cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- -max_total_time="$secs" -print_final_stats=1
done
echo "fuzz-brief: no crash in ${secs} s per target ($targets)"
