#!/usr/bin/env bash
# Runs every test of the workspace on a Debian machine: installs what the tests need, builds the
# binaries the end-to-end tests drive, then runs unit, engine and namespace-lab tests.
# The lab tests need root (network namespaces, raw sockets, knockd); run this as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --workspace --locked
cargo test --workspace --locked
