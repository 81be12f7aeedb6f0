#!/usr/bin/env bash
# Measures knock-gui (release build; built if missing) under its own Xvfb with Mesa software GL:
#   (a) start-up: process start to the end of the first frame's UI pass (the app's KNOCK_GUI_BENCH hook,
#       first_frame_ms), over LAUNCHES launches, and for comparison the time from spawn until the window
#       is mapped (polled with xdotool every 5 ms);
#   (b) idle CPU over 10 s with the window open and nothing happening (utime+stime from /proc/PID/stat),
#       in percent of one core, with the example profiles and with 1000 profiles;
#   (c) frame time with KNOCK_GUI_BENCH=300 (300 frames paced at 60 Hz, as a display's vsync paces them):
#       the UI pass, the frame submitted to GL (the app's CPU cost of a frame) and the frame drawn (with
#       Mesa's software rasterization), p50/p99, with no profiles (the window alone), the example
#       profiles, and 1000 generated profiles in 20 tag groups. See gui.rs (`Bench`) for how.
# Usage: scripts/gui-bench.sh      Environment: KNOCK_GUI_BIN, LAUNCHES (default 10), IDLE_SECS (10).
#
# No traffic: the profiles are IP literals from documentation ranges, nothing is selected or knocked, and
# as root the script re-runs itself in a new network namespace (no usable interface) to make sure.
# Each launch gets a fresh HOME/XDG_* in a temporary directory; everything started is stopped on exit.
# Other load on the machine (a cargo build...) skews the numbers: the load average is printed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bin=${KNOCK_GUI_BIN:-target/release/knock-gui}
launches=${LAUNCHES:-10}
idle_secs=${IDLE_SECS:-10}
bench_frames=300
screen=1280x800x24

die() { echo "gui-bench: $*" >&2; exit 1; }
for tool in Xvfb xdotool xdpyinfo getconf awk; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/install-deps.sh)"
done

if [ ! -x "$bin" ]; then
  echo "gui-bench: building $bin (release; several minutes when cold)" >&2
  cargo build --release -p client-gui >&2
fi
bin=$(realpath "$bin")

isolation="none (not root or unshare refused): no traffic by construction only"
if [ -z "${KNOCK_GUI_BENCH_ISOLATED:-}" ]; then
  if [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
    KNOCK_GUI_BENCH_ISOLATED=1 exec unshare --net -- "$0" "$@"
  fi
else
  isolation="own network namespace (no interface up)"
fi

work=$(mktemp -d /tmp/knock-gui-bench.XXXXXX)
xvfb_pid=""
app_pid=""
stop() { # PID: TERM, then KILL after 2 s
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$app_pid"
  stop "$xvfb_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- Xvfb on a free display ---------------------------------------------------------------------------
# shellcheck source=scripts/xvfb.sh
. "$repo/scripts/xvfb.sh"
start_xvfb

# --- profile stores -----------------------------------------------------------------------------------
mkdir -p "$work/examples" "$work/many"
cp profiles/*.toml "$work/examples/"
n_examples=$(ls "$work/examples" | wc -l)
for i in $(seq 1 1000); do
  printf 'host = "192.0.2.%d"\nopen = "7000,8000:udp,9000"\ntags = ["group-%02d"]\n' \
    $(( (i - 1) % 254 + 1 )) $(( i % 20 + 1 )) >"$work/many/host-$(printf %04d "$i").toml"
done

# --- helpers ------------------------------------------------------------------------------------------
run_no=0
# start_app STORE LOG [VAR=VALUE...]: starts the app on STORE with a fresh HOME; sets app_pid.
start_app() {
  local store=$1 log=$2; shift 2
  run_no=$((run_no + 1))
  local h="$work/home-$run_no"
  mkdir -p "$h/home" "$h/data" "$h/config" "$h/cache" "$h/run"
  chmod 700 "$h/run"
  env -i PATH="$PATH" DISPLAY="$DISPLAY" LANG=C.UTF-8 \
    HOME="$h/home" XDG_DATA_HOME="$h/data" XDG_CONFIG_HOME="$h/config" XDG_CACHE_HOME="$h/cache" \
    XDG_RUNTIME_DIR="$h/run" DBUS_SESSION_BUS_ADDRESS="unix:path=$h/run/no-bus" \
    WINIT_X11_SCALE_FACTOR=1 LIBGL_ALWAYS_SOFTWARE=1 "$@" \
    "$bin" --profiles-dir "$store" >"$log" 2>&1 &
  app_pid=$!
  spawned_at=$EPOCHREALTIME
}
# wait_line LOG REGEX SECONDS: waits until LOG has a line matching REGEX.
wait_line() {
  local deadline=$((SECONDS + $3))
  until grep -qE "$2" "$1" 2>/dev/null; do
    kill -0 "$app_pid" 2>/dev/null || die "knock-gui exited: $(tail -5 "$1")"
    [ "$SECONDS" -lt "$deadline" ] || die "no '$2' from knock-gui within $3 s: $(tail -5 "$1")"
    sleep 0.05
  done
}
# wait_window SECONDS: waits until the app's window is mapped.
wait_window() {
  local deadline=$((SECONDS + $1))
  until xdotool search --onlyvisible --name '^knock$' >/dev/null 2>&1; do
    kill -0 "$app_pid" 2>/dev/null || die "knock-gui exited before its window showed"
    [ "$SECONDS" -lt "$deadline" ] || die "no knock window within $1 s"
    sleep 0.005
  done
}
# stats: "median M max X" of the numbers on stdin.
stats() { sort -g | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
  printf "median %7.1f  max %7.1f", m, v[NR]}'; }
ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v < t) ? "ok" : "MISSED"}'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

gl="?"
echo "knock-gui bench: $bin"
echo "  built $(date -r "$bin" '+%F %T'), Xvfb $DISPLAY ${screen}, $(nproc) cores, load average $(load) at start"
echo "  network: $isolation"

# --- (a) start-up -------------------------------------------------------------------------------------
hook=() mapped=() gl_ready=() app_ready=() first_pass=()
for i in $(seq 1 "$launches"); do
  start_app "$work/examples" "$work/a$i.log" KNOCK_GUI_BENCH=1
  wait_window 30
  mapped_at=$EPOCHREALTIME
  wait_line "$work/a$i.log" '^first_frame_ms ' 30
  [ "$gl" != "?" ] || gl=$(grep -oE '[^/ ]*(EGL_mesa|GLX_mesa|swrast_dri|libgallium)[^/ ]*$' "/proc/$app_pid/maps" \
    | sort -u | tr '\n' ' ' || true)
  hook+=("$(awk '/^first_frame_ms /{print $2; exit}' "$work/a$i.log")")
  # Where the time goes: process start -> eframe's window and GL context ready -> the app's state
  # built -> its first UI pass (the first frame's layout, fonts included) took this long.
  gl_ready+=("$(awk '/^window_and_gl_ms /{print $2; exit}' "$work/a$i.log")")
  app_ready+=("$(awk '/^app_state_ms /{print $2; exit}' "$work/a$i.log")")
  first_pass+=("$(awk '/^first_ui_pass_ms /{print $2; exit}' "$work/a$i.log")")
  mapped+=("$(awk -v a="$spawned_at" -v b="$mapped_at" 'BEGIN {printf "%.1f", (b - a) * 1000}')")
  stop "$app_pid"; app_pid=""
done
echo "  GL libraries loaded: ${gl:-unknown}"
echo
echo "(a) start-up, $launches launches, $n_examples example profiles            target: first frame < 100 ms (median)"
hook_stats=$(printf '%s\n' "${hook[@]}" | stats)
hook_median=$(printf '%s\n' "${hook[@]}" | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
printf '    first_frame_ms (hook: process start -> end of 1st UI pass)  %s ms   %s\n' "$hook_stats" "$(verdict "$hook_median" 100)"
printf '    window mapped  (external: spawn -> mapped, 5 ms polling)    %s ms\n' "$(printf '%s\n' "${mapped[@]}" | stats)"
printf '    of which: start -> window + GL context ready               %s ms\n' "$(printf '%s\n' "${gl_ready[@]}" | stats)"
printf '              start -> app state built (store, worker)        %s ms\n' "$(printf '%s\n' "${app_ready[@]}" | stats)"
printf '              the first UI pass itself (layout, fonts)         %s ms\n' "$(printf '%s\n' "${first_pass[@]}" | stats)"
echo "    per launch, hook:   ${hook[*]}"
echo "    per launch, mapped: ${mapped[*]}"

# --- (b) idle CPU -------------------------------------------------------------------------------------
echo
echo "(b) idle CPU over ${idle_secs} s, window open, nothing happening     target: ~0 % of one core"
idle() { # STORE LABEL
  start_app "$1" "$work/idle-$((run_no + 1)).log"
  wait_window 30
  sleep 3   # let start-up work (and the first re-scan) pass
  local a0 x0 a1 x1
  a0=$(ticks "$app_pid"); x0=$(ticks "$xvfb_pid")
  sleep "$idle_secs"
  kill -0 "$app_pid" 2>/dev/null || die "knock-gui exited during the idle measurement"
  a1=$(ticks "$app_pid"); x1=$(ticks "$xvfb_pid")
  awk -v l="$2" -v a=$((a1 - a0)) -v x=$((x1 - x0)) -v hz="$hz" -v s="$idle_secs" 'BEGIN {
    p = a / hz / s * 100
    printf "    %-25s knock-gui %5.2f %% (%d ticks of 1/%d s)   Xvfb %5.2f %%   %s\n",
      l, p, a, hz, x / hz / s * 100, (p < 1) ? "ok" : "MISSED (> 1 %)"}'
  stop "$app_pid"; app_pid=""
}
idle "$work/examples" "$n_examples example profiles:"
idle "$work/many" "1000 profiles:"

# --- (c) frame time -----------------------------------------------------------------------------------
echo
echo "(c) frame time, $bench_frames frames paced at 60 Hz (ms)               target: frame < 16 ms (p99)"
echo "    ui_pass: the app's ui(); submitted: frame start until GL has every primitive (UI pass, tessellation,"
echo "    GL calls: all the CPU does per frame where a GPU draws); drawn: until every pixel is drawn by Mesa's"
echo "    software rasterizer (llvmpipe) on this machine's cores. The window alone shows what drawing costs here."
mkdir -p "$work/none"
frames() { # STORE LABEL
  # A log per run: the app's redirect truncates it only once the background process starts, so a
  # shared log could still hold the previous run's numbers when wait_line looks.
  local log="$work/frames-$((run_no + 1)).log"
  start_app "$1" "$log" KNOCK_GUI_BENCH=$bench_frames
  wait_line "$log" '^bench_done' 300
  awk -v l="$2" '
    /^ui_pass_ms / {u50 = $3; u99 = $5}
    /^frame_submitted_ms / {s50 = $3; s99 = $5}
    /^frame_ready_ms / {r50 = $3; r99 = $5}
    END {printf "    %-25s ui_pass %5.2f / %5.2f   submitted %5.2f / %5.2f %-6s   drawn %5.2f / %5.2f %s\n",
      l, u50, u99, s50, s99, (s99 < 16) ? "ok" : "MISSED", r50, r99, (r99 < 16) ? "ok" : "MISSED"}' "$log"
  stop "$app_pid"; app_pid=""
}
echo "                              (p50 / p99 each)"
frames "$work/none" "no profiles (window):"
frames "$work/examples" "$n_examples example profiles:"
frames "$work/many" "1000 profiles (20 tags):"
echo
echo "load average $(load) at the end"
