#!/usr/bin/env bash
# Builds the Linux release binary of knock-cli: statically linked (glibc), so it starts faster than a
# dynamically linked build (no loader work for libgcc_s/libc: ~0.25 ms per run) and runs on any
# glibc-based distribution of the same architecture. Prints the binary's absolute path (in $CARGO_TARGET_DIR
# when set), after checking that it really is statically linked.
# crt-static needs an explicit --target, or it would also apply to proc-macro crates and fail.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release -p client-cli --locked --target "$host" >&2
binary="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/$host/release/knock-cli"
# ldd says "not a dynamic executable" (glibc) or "statically linked" (static-pie): either way no loader work.
if ldd "$binary" 2>&1 | grep -q '=>'; then
  echo "build-release.sh: $binary is dynamically linked:" >&2
  ldd "$binary" >&2
  exit 1
fi
echo "$binary"
