#!/usr/bin/env bash
# Fuzzes each of server-mini's cargo-fuzz targets briefly (CI): packet, knockd_conf and spa, each for
# FUZZ_SECS seconds from its committed seeds (server-mini/fuzz/seeds/<target>), new inputs in the git-ignored
# corpus/<target>. Fails on any crash, leak or timeout libFuzzer reports (the input is in
# server-mini/fuzz/artifacts/<target>/; see server-mini/fuzz/README.md to reproduce and minimise it).
# Installs cargo-fuzz (pinned, --locked) when it is missing. cargo fuzz passes -Z flags to rustc: on a
# stable toolchain RUSTC_BOOTSTRAP=1 allows them.
#
# The cold cost in CI is the build: cargo fuzz builds in release mode with one codegen unit by default,
# which is most of it. Under CI=true the targets are built once, with AddressSanitizer, in dev mode
# (unoptimised, debug assertions on): a few seconds of fuzzing is a smoke test, where the build is what
# costs (docs/spa-server.md has the measured numbers).
#   FUZZ_SECS=N           seconds per target (default 20; 10 with CI=true)
#   FUZZ_TARGETS="a b"    the targets to run (default: packet knockd_conf spa)
#   FUZZ_BUILD="--dev"    cargo fuzz build flags (default: none, i.e. release; --dev with CI=true)
set -euo pipefail
cd "$(dirname "$0")/../server-mini/fuzz"
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
export RUSTC_BOOTSTRAP=1
if [ "${CI:-}" = true ]; then
    secs="${FUZZ_SECS:-10}"
    build="${FUZZ_BUILD---dev}"
else
    secs="${FUZZ_SECS:-20}"
    build="${FUZZ_BUILD:-}"
fi
targets="${FUZZ_TARGETS:-packet knockd_conf spa}"
# Build all targets first (their dependencies once), so the time limit below is fuzzing only; `run` gets
# the same flags, so it builds nothing more.
# shellcheck disable=SC2086 # $build is a list of flags
cargo fuzz build $build
for target in $targets; do
    mkdir -p "corpus/$target"
    echo "== fuzz $target: ${secs} s from seeds/$target"
    # shellcheck disable=SC2086
    cargo fuzz run $build "$target" "corpus/$target" "seeds/$target" -- -max_total_time="$secs" -print_final_stats=1
done
echo "fuzz-brief: no crash in ${secs} s per target ($targets)"
