#!/usr/bin/env bash
# How many live viewers one ketang carries, side by side with nginx serving
# the same playlists and segments from disk.
#
#   bench/load-vs-nginx.sh [N…]          (default: 250 500 1000 1500 2000 3000)
#
# Environment: RAMP (s, default 10) over which the N viewers join, DURATION
# (s, default 20) they then watch, PICK (variant index, default 0 = 720p, the
# heaviest), THREADS (default 1): ketang's HTTP serving threads and nginx's
# worker processes, the same for both (on a 2-core machine the viewer
# simulator needs the other core).
#
# Starts `ketang serve --demo` (30-second demo lesson, looped on channel 1)
# on a free port with a fresh data dir, and nginx (installed here with apt
# when missing) on another, configured by bench/nginx-bench.conf: its root
# holds hard links to the demo's segment files under ketang's URLs, and
# copies of ketang's live playlists, rewritten every half second. Then for
# each N, first against ketang and then against nginx, build/bench/kt-viewers
# plays N hls.js-like viewers, and this prints per run: stalls, viewers that
# stalled, viewers that never started, errors, segment fetch latency
# p50/p99, playlist p99, time to first segment p99, and the server's CPU
# (utime + stime from /proc, as a share of one core). Last, the largest N
# with no stall, no error and everyone playing, for each server, and their
# ratio.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib.sh"
bin="$root/build/src/ketang"
sim="$root/build/bench/kt-viewers"
[ -x "$bin" ] && [ -x "$sim" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(250 500 1000 1500 2000 3000)
ramp=${RAMP:-10}
duration=${DURATION:-20}
pick=${PICK:-0}
threads=${THREADS:-1}

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx…" >&2
  as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo"
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >&2
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as nobody when started by root
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ketang
mkdir -p "$work/data/schedules"
KETANG_DEMO_SECONDS=30 KETANG_SERVER_SCHEDULES_DIR="$work/data/schedules" KETANG_SERVER_THREADS=$threads \
  "$bin" serve --demo --listen 127.0.0.1:0 --data "$work/data" >"$work/ketang.log" 2>&1 &
ketang_pid=$!
pids+=("$ketang_pid")
url=$(ketang_url "$work/ketang.log")
url=${url%/}
for _ in $(seq 1 600); do curl -fs "$url/live/1/720p/index.m3u8" >/dev/null && break; sleep 0.5; done
item=$(curl -fs "$url/live/1/720p/index.m3u8" | grep -o '/media/[^/]*' | head -n1 | cut -d/ -f3)
[ -n "$item" ] || { echo "channel 1 did not come on air" >&2; exit 1; }

# nginx's copy: segments linked under ketang's URL names, playlists mirrored.
www="$work/www"
for dir in "$work/data/media/$item"/*/; do
  rendition=$(basename "$dir")
  mkdir -p "$www/media/$item/$rendition"
  for f in "$dir"*.ts; do
    n=$(basename "$f" .ts)
    ln "$f" "$www/media/$item/$rendition/$((10#$n)).ts"
  done
done
renditions=$(curl -fs "$url/live/1/index.m3u8" | grep -v '^#' | cut -d/ -f1)
mirror_once() {
  for path in index.m3u8 $(for r in $renditions; do echo "$r/index.m3u8"; done); do
    mkdir -p "$(dirname "$www/live/1/$path")"
    curl -fs "$url/live/1/$path" -o "$www/live/1/$path.tmp" && mv "$www/live/1/$path.tmp" "$www/live/1/$path"
  done
}
mirror_once
(while true; do mirror_once; sleep 0.5; done) &
pids+=("$!")

nginx_port=$(free_port)
sed -e "s|@DIR@|$work|g" -e "s|@ROOT@|$www|g" -e "s|@PORT@|$nginx_port|g" -e "s|@WORKERS@|$threads|g" \
  "$root/bench/nginx-bench.conf" >"$work/nginx.conf"
"$nginx_bin" -c "$work/nginx.conf" -p "$work" 2>"$work/nginx.log" &
nginx_pid=$!
pids+=("$nginx_pid")
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$nginx_port/live/1/index.m3u8" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$nginx_port/live/1/720p/index.m3u8" >/dev/null \
  || { echo "nginx did not start:" >&2; cat "$work/nginx.log" "$work/nginx-error.log" >&2; exit 1; }

# CPU ticks of a process and its children (nginx's workers).
ticks() {
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
hz=$(getconf CLK_TCK)

field() { echo "$1" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }

declare -A best=([ketang]=0 [nginx]=0)
printf '%-7s %6s %7s %8s %6s %6s %9s %9s %9s %9s %6s\n' server N stalls stalled never errors \
  seg_p50 seg_p99 pl_p99 ttfs_p99 cpu%
for n in "${counts[@]}"; do
  for server in ketang nginx; do
    if [ "$server" = ketang ]; then pid=$ketang_pid; target="$url"; else pid=$nginx_pid; target="http://127.0.0.1:$nginx_port"; fi
    before=$(ticks "$pid")
    start=$(date +%s.%N)
    out=$("$sim" "$target/live/1/index.m3u8" "$n" "$ramp" "$duration" "$pick")
    end=$(date +%s.%N)
    after=$(ticks "$pid")
    cpu=$(echo "($after - $before) * 100 / $hz / ($end - $start)" | bc -l)
    stalls=$(field "$out" stalls); errors=$(field "$out" errors)
    never=$(field "$out" never_played); missed=$(field "$out" missed)
    printf '%-7s %6d %7d %8d %6d %6d %9.4f %9.4f %9.4f %9.3f %6.1f\n' "$server" "$n" "$stalls" \
      "$(field "$out" stalled_viewers)" "$never" "$errors" "$(field "$out" seg_p50)" \
      "$(field "$out" seg_p99)" "$(field "$out" playlist_p99)" "$(field "$out" ttfs_p99)" "$cpu"
    if [ "$stalls" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$never" -eq 0 ] && [ "$missed" -eq 0 ] \
       && [ "$n" -gt "${best[$server]}" ]; then
      best[$server]=$n
    fi
    # Let the connections of this run close, and their ports leave
    # TIME_WAIT (60 s on Linux): a run that starts while tens of thousands
    # of loopback ports wait there fails for the harness's sake, whichever
    # server it measures (two 14,000-viewer runs leave 28,000 of the 28,232
    # ephemeral ports taken).
    sleep 3
    for _ in $(seq 1 70); do
      [ "$(ss -Htan state time-wait | wc -l)" -lt 2000 ] && break
      sleep 1
    done
  done
done
echo
echo "largest N with no stall: ketang ${best[ketang]}, nginx ${best[nginx]}"
if [ "${best[nginx]}" -gt 0 ]; then
  echo "ratio ketang/nginx: $(echo "scale=2; ${best[ketang]} / ${best[nginx]}" | bc -l)"
fi
