# Sourced by gui-bench.sh and gui-screenshot.sh: start_xvfb starts Xvfb on the first free display from :97
# and exports DISPLAY. Uses the caller's $work (scratch dir), $screen (WxHxD), stop PID and die MESSAGE, and
# sets $xvfb_pid for the caller's cleanup.
start_xvfb() {
  local display="" n
  for n in $(seq 97 199); do
    [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] && continue
    Xvfb ":$n" -screen 0 "$screen" -nolisten tcp -noreset >"$work/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 100); do
      kill -0 "$xvfb_pid" 2>/dev/null || break
      xdpyinfo -display ":$n" >/dev/null 2>&1 && { display=":$n"; break; }
      sleep 0.1
    done
    [ -n "$display" ] && break
    stop "$xvfb_pid"; xvfb_pid=""   # lost a race for that display, or it did not come up: next one
  done
  [ -n "$display" ] || die "could not start Xvfb (last log: $(tail -3 "$work/xvfb.log" 2>/dev/null))"
  export DISPLAY=$display
}
