#!/usr/bin/env bash
# Soak: does the server's memory or its count of open files grow while a
# channel airs to a crowd for a long time? A leak of a few bytes per request
# or one descriptor per viewer never shows in a test that runs a minute; an
# unattended county server runs for months.
#
#   bench/soak.sh [MINUTES] [VIEWERS]      (defaults: 60 minutes, 300 viewers)
#
# Starts `ketang serve --demo` (channel 1 loops the demo lesson, so item
# boundaries and discontinuities come round every 30 s) on a free port with
# a fresh data dir, and points build/bench/kt-viewers at it: VIEWERS
# hls.js-like players joining over 30 s, reloading playlists and fetching
# every segment. Each viewer also sends an attendance heartbeat every 20 s
# (one curl process per round, reusing its connection), so sessions,
# trackers and flushes run too.
#
# Every SOAK_SAMPLE_S seconds (default 60) it reads the server's resident
# memory (VmRSS, and RssAnon: the heap, without mapped segment files) from
# /proc/PID/status and its open descriptors from /proc/PID/fd, and prints a
# row. At the end: the players' summary, and a verdict comparing the last
# sample with the first one taken after everyone joined: "flat" when the
# heap grew by less than 10 % + 8 MiB and descriptors by at most 10, and the
# heap was not still rising at every sample of the second half of the run
# (a cache that fills levels off; a leak keeps climbing, and a short run
# shows it only as that steady climb); "GROWING" otherwise (exit 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib.sh"
minutes=${1:-60}
viewers=${2:-300}
sample_s=${SOAK_SAMPLE_S:-60}
bin="$root/build/src/ketang"
sim="$root/build/bench/kt-viewers"
[ -x "$bin" ] && [ -x "$sim" ] || { echo "build first: ninja -C build" >&2; exit 1; }

data=$(mktemp -d)
log="$data/server.log"
# Each viewer holds a socket; leave room for them.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
KETANG_SERVER_SCHEDULES_DIR="$data/schedules" \
  "$bin" serve --demo --listen 127.0.0.1:0 --data "$data" >"$log" 2>&1 &
pid=$!
sim_pid=""
beat_pid=""
cleanup() {
  for p in $beat_pid $sim_pid $pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
mkdir -p "$data/schedules"

url=$(ketang_url "$log")
for _ in $(seq 1 240); do
  curl -fs "${url}api/channels/1" | grep -q '"state":"on-air"' && break
  sleep 0.5
done
curl -fs "${url}api/channels/1" | grep -q '"state":"on-air"' || { echo "channel 1 never came on air" >&2; exit 1; }

seconds=$((minutes * 60))
"$sim" "${url}live/1/index.m3u8" "$viewers" 30 "$seconds" >"$data/viewers.out" 2>"$data/viewers.err" &
sim_pid=$!

# Heartbeats: one curl config with a request per viewer, run every 20 s.
beats="$data/beats.curl"
for i in $(seq 1 "$viewers"); do
  printf 'url = "%sapi/heartbeat"\nheader = "Content-Type: application/json"\n' "$url"
  printf 'data = "{\\"viewer\\": \\"soak-%d\\", \\"channel\\": \\"1\\", \\"state\\": \\"playing\\"}"\n' "$i"
  printf 'output = "/dev/null"\nsilent\n'
  [ "$i" -lt "$viewers" ] && printf 'next\n'
done >"$beats"
( while kill -0 "$sim_pid" 2>/dev/null; do curl -K "$beats" || true; sleep 20; done ) &
beat_pid=$!

status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }

printf '%8s %12s %12s %8s\n' minute rss_kb heap_kb fds
first_heap="" first_fds="" heap="" nfd=""
heaps=()
elapsed=0
while [ "$elapsed" -lt "$seconds" ] && kill -0 "$pid" 2>/dev/null; do
  sleep "$sample_s"
  elapsed=$((elapsed + sample_s))
  kill -0 "$pid" 2>/dev/null || break
  rss=$(status_kb VmRSS); heap=$(status_kb RssAnon); nfd=$(fds)
  printf '%8.1f %12s %12s %8s\n' "$(echo "$elapsed / 60" | bc -l)" "$rss" "$heap" "$nfd"
  # The baseline: the first sample after the 30 s ramp-up.
  if [ -z "$first_heap" ] && [ "$elapsed" -ge 30 ]; then first_heap=$heap; first_fds=$nfd; fi
  heaps+=("$heap")
done
kill -0 "$pid" 2>/dev/null || { echo "the server died:" >&2; tail -n 20 "$log" >&2; exit 1; }
wait "$sim_pid" || true
sim_pid=""
echo "viewers: $(cat "$data/viewers.out")"
[ -n "$first_heap" ] || { echo "too short for a verdict" >&2; exit 1; }

limit=$((first_heap + first_heap / 10 + 8192))
echo "heap ${first_heap} kB -> ${heap} kB (limit ${limit} kB), descriptors ${first_fds} -> ${nfd}"
# Still rising: every sample of the second half above the one before.
n=${#heaps[@]}
rising=$(( n >= 4 ))
for ((i = n / 2; i < n; i++)); do
  [ "${heaps[i]}" -gt "${heaps[i - 1]}" ] || rising=0
done
[ "$rising" = 1 ] && echo "the heap rose at every sample of the second half"
if [ "$heap" -le "$limit" ] && [ "$nfd" -le $((first_fds + 10)) ] && [ "$rising" = 0 ]; then
  echo "verdict: flat"
else
  echo "verdict: GROWING"
  exit 1
fi
