#!/usr/bin/env bash
# Benchmark knock-cli against knock(1) in the namespace lab (needs root). Measures both the static
# release binary (scripts/build-release.sh) and the dynamically linked build `cargo install` gives.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p client-cli --locked
KNOCK_CLI_STATIC="$(scripts/build-release.sh)"
export KNOCK_CLI_STATIC
cargo bench -p knock-e2e --bench knock_bench --locked
scripts/fleet-bench.sh
