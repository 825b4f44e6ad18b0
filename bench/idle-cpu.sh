#!/usr/bin/env bash
# CPU used by `ketang serve --demo` while channel 1 is on air and nobody
# watches. Airing is playlist assembly only, so this should be ~0 %.
#
#   bench/idle-cpu.sh [SECONDS]      (default 60)
#
# Prints the server's CPU time over the window as a share of one core, read
# from /proc/<pid>/stat (utime + stime), after the demo lesson is ready.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
bin="$root/build/src/ketang"
[ -x "$bin" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }

data=$(mktemp -d)
log="$data/server.log"
"$bin" serve --demo --listen 127.0.0.1:0 --data "$data" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT

url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[^ ]*' "$log" | head -n1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
for _ in $(seq 1 600); do
  curl -fs "${url}api/channels" | grep -q '"state":"on-air"' && break
  sleep 0.5
done
curl -fs "${url}api/channels" | grep -q '"state":"on-air"' || { echo "channel never went on air" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
start=$(ticks)
sleep "$seconds"
end=$(ticks)
echo "ketang serve --demo, channel 1 on air, no viewers, ${seconds}s:"
awk -v t=$((end - start)) -v hz="$hz" -v s="$seconds" \
  'BEGIN { printf "  CPU time %.2f s = %.3f %% of one core\n", t / hz, 100 * t / hz / s }'
echo "  resident memory $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
