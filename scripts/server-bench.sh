#!/usr/bin/env bash
# Benchmark knock-server (release build): offline replay throughput and peak RSS, memory per attempt with
# 1 M sources mid-sequence, and (needs root: namespace lab) legitimate knocks detected under a spoofed
# SYN flood, knock-server next to knockd 0.8; then offline replay throughput of a rotating door with 1,000
# users (part (d)); then (needs root) a blind port sweep against knock-server's static and rotating doors
# and knockd's static door (part (e)): time to open, or "not opened after N SYNs"; then (part (f)) an
# offline replay of a pcap of SPA packets through knock-server --fwknop-access and through
# fwknopd --pcap-file -t (in a lab namespace): packets per second for both; and live (needs root) 20
# legitimate SPA packets during a spoofed flood of random payloads to UDP 62201: how many opened on
# knock-server and on fwknopd. Prints numbers; asserts no timings.
#   SERVER_BENCH_PACKETS=N          size of the replay pcaps (default 3000000)
#   SERVER_BENCH_SKIP_LIVE=1        skip the live parts (c), (e) and (f)'s flood
#   SERVER_BENCH_ONLY_ROTATING=1    run only the rotating door's replay (d)
#   SERVER_BENCH_PARTS=ae           run only these parts (default abcdef)
#   SERVER_BENCH_SPA_PACKETS=N      size of part (f)'s pcap (default 20000; fwknopd reads ~1,000 a second)
#   SERVER_BENCH_SPA_FLOOD_SECS=N   length of each round of (f)'s live flood (default 10; 3 with CI=true)
#   SERVER_BENCH_BASELINE=PATH      part (a) also replays its pcap with this knock-server build
#   SERVER_BENCH_SWEEP_SYNS=N       bound each sweep of (e) to N SYNs (and as many datagrams; default 50000000)
#   SERVER_BENCH_SWEEP_SECS=N       ... and to N seconds (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p server-mini -p client-cli --locked
TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"
KNOCK_SERVER="$TARGET_DIR/release/knock-server"
KNOCK_CLI="$TARGET_DIR/release/knock-cli"
export KNOCK_SERVER KNOCK_CLI
cargo bench -p knock-e2e --bench server_bench --locked
