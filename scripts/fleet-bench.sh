#!/usr/bin/env bash
# Fleet benchmark: `knock-cli open --group fleet` with verify over 100 hosts, in the namespace lab (root),
# and a fleet of 50 doors on one host (each its own sequence and port), so both timings print.
# The server namespace has 100 addresses (198.51.100.1-100, a documentation range that exists only inside these namespaces), each behind its own knockd door (its own
# sequence; the door lets the client in to that one address's port 2222) and a listener on 2222. Every
# run starts with all doors shut. Prints the wall time for --parallel 8, the default, and 100.
# Needs: ip, iptables, knockd, python3. Binary: $KNOCK_CLI (default target/release/knock-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
HOSTS=${FLEET_HOSTS:-100}
DOORS=${FLEET_ONE_HOST_DOORS:-50}
[ "$DOORS" -le 500 ] || { echo "fleet-bench: at most 500 doors on one host" >&2; exit 2; }
[ "$HOSTS" -le 249 ] || { echo "fleet-bench: at most 249 hosts (one /24)" >&2; exit 2; }
CLI=${KNOCK_CLI:-$(pwd)/target/release/knock-cli}
[ -x "$CLI" ] || { echo "fleet-bench: $CLI not built (cargo build --release -p client-cli, or set KNOCK_CLI)" >&2; exit 2; }
tag=$$
C=fleetc$tag S=fleets$tag
work=$(mktemp -d /tmp/fleet-bench.XXXXXX)
cleanup() {
  [ -f "$work/knockd.pid" ] && kill "$(cat "$work/knockd.pid")" 2>/dev/null || true
  [ -f "$work/listener.pid" ] && kill "$(cat "$work/listener.pid")" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  ip netns del "$S" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$C"; ip netns add "$S"
ip link add fbc$tag type veth peer name fbs$tag
ip link set fbc$tag netns "$C"; ip link set fbs$tag netns "$S"
ip -n "$C" addr add 198.51.100.250/24 dev fbc$tag; ip -n "$C" link set fbc$tag up; ip -n "$C" link set lo up
ip -n "$S" link set fbs$tag up; ip -n "$S" link set lo up
for i in $(seq 1 "$HOSTS"); do ip -n "$S" addr add 198.51.100.$i/24 dev fbs$tag; done

# One door per address: sequence 20000+i, 30000+i, 40000+i opens port 2222 of 198.51.100.i for the knocker.
conf=$work/knockd.conf
printf '[options]\n  LogFile = %s/knockd.log\n  Interface = fbs%s\n' "$work" "$tag" > "$conf"
mkdir -p "$work/profiles"
for i in $(seq 1 "$HOSTS"); do
  printf '[door%s]\n  sequence = %s,%s,%s\n  seq_timeout = 10\n  tcpflags = syn\n  start_command = iptables -w 5 -I INPUT -s %%IP%% -d 198.51.100.%s -p tcp --dport 2222 -j ACCEPT\n' \
    "$i" $((20000 + i)) $((30000 + i)) $((40000 + i)) "$i" >> "$conf"
  printf 'host = "198.51.100.%s"\nopen = "%s,%s,%s"\ntags = ["fleet"]\n[verify]\nport = 2222\nattempts = 1\n' \
    "$i" $((20000 + i)) $((30000 + i)) $((40000 + i)) > "$work/profiles/h$i.toml"
done
# One host, many doors: door i of 198.51.100.1 (sequence 21000+i, 31000+i, 41000+i) opens its port 5000+i.
for i in $(seq 1 "$DOORS"); do
  printf '[one%s]\n  sequence = %s,%s,%s\n  seq_timeout = 10\n  tcpflags = syn\n  start_command = iptables -w 5 -I INPUT -s %%IP%% -d 198.51.100.1 -p tcp --dport %s -j ACCEPT\n' \
    "$i" $((21000 + i)) $((31000 + i)) $((41000 + i)) $((5000 + i)) >> "$conf"
  printf 'host = "198.51.100.1"\nopen = "%s,%s,%s"\ntags = ["onehost"]\n[verify]\nport = %s\nattempts = 1\n' \
    $((21000 + i)) $((31000 + i)) $((41000 + i)) $((5000 + i)) > "$work/profiles/o$i.toml"
done
ip netns exec "$S" knockd -d -c "$conf" -p "$work/knockd.pid" -i fbs$tag
ip netns exec "$S" python3 -c '
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in [2222] + list(range(5001, 5001 + int(sys.argv[1]))):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(1024); sel.register(s, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        c, _ = key.fileobj.accept(); c.close()
' "$DOORS" & echo $! > "$work/listener.pid"
for _ in $(seq 1 50); do grep -q "listening" "$work/knockd.log" 2>/dev/null && break; sleep 0.1; done

shut_all() {
  ip netns exec "$S" iptables -w 5 -F INPUT
  ip netns exec "$S" iptables -w 5 -A INPUT -p tcp --dport 2222 --syn -j DROP
  ip netns exec "$S" iptables -w 5 -A INPUT -p tcp --dport 5001:$((5000 + DOORS)) --syn -j DROP
}
run() { # group, what, label, extra args
  shut_all
  local start end opened
  start=$(date +%s.%N)
  ip netns exec "$C" "$CLI" --profiles-dir "$work/profiles" open --group "$1" --json "${@:4}" > "$work/out.json" || true
  end=$(date +%s.%N)
  opened=$(grep -c '"outcome": "opened"' "$work/out.json" || true)
  printf 'fleet open+verify, %-18s %-16s %6.3f s  (%s opened)\n' "$2," "$3:" "$(echo "$end - $start" | bc)" "$opened"
}
run fleet "$HOSTS hosts" "parallel 8" --parallel 8
run fleet "$HOSTS hosts" "default"
run fleet "$HOSTS hosts" "parallel 100" --parallel 100
run onehost "$DOORS doors, 1 host" "default"
run onehost "$DOORS doors, 1 host" "per-host 4" --per-host 4
