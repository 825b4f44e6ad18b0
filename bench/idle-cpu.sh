#!/usr/bin/env bash
# CPU used by the server while channels are on air and nobody watches.
# Airing is playlist assembly only, so this should be ~0 %.
#
#   bench/idle-cpu.sh [SECONDS] [CHANNELS]      (defaults: 60 s, 10 channels)
#
# Starts `ketang serve --demo` on a free port with a fresh data dir. Channel 1
# loops the demo lesson; channels 2…CHANNELS get generated timetables that
# air the demo lesson every 10 minutes around now (so lessons, slates between
# them and boundaries happen while it runs). Once every channel
# is on air and nothing is being rendered, it reads the server's CPU time
# (utime + stime from /proc/<pid>/stat) over SECONDS and prints it as a share
# of one core.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib.sh"
seconds=${1:-60}
channels=${2:-10}
bin="$root/build/src/ketang"
[ -x "$bin" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }

data=$(mktemp -d)
mkdir -p "$data/schedules"
log="$data/server.log"
KETANG_SERVER_SCHEDULES_DIR="$data/schedules" \
  "$bin" serve --demo --listen 127.0.0.1:0 --data "$data" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT

url=$(server_url "$log")

on_air() { curl -fs "${url}api/channels" | grep -o '"state":"on-air"' | wc -l; }
for _ in $(seq 1 600); do [ "$(on_air)" -ge 1 ] && break; sleep 0.5; done
item=$(curl -fs "${url}api/channels/1" | grep -o '"source":"item:[^"]*"' | head -n1 | cut -d: -f3 | tr -d '"')
[ -n "$item" ] || { echo "the demo lesson was not made" >&2; exit 1; }

# Timetables: a 5-minute lesson slot every 10 minutes from an hour ago, for
# five days (the 30 s demo lesson, then its slate, then the gap's slate).
start=$(date -u -d "@$(( ($(date +%s) / 600) * 600 - 3600 ))" +%Y%m%dT%H%M%SZ)
for ch in $(seq 2 "$channels"); do
  cat >"$data/schedules/$ch.ics" <<ICS
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ketang//bench//EN
X-WR-CALNAME:测试频道 $ch
X-KETANG-CHANNEL:$ch
BEGIN:VEVENT
UID:bench-$ch
SUMMARY:示范课 $ch
DTSTART:$start
DURATION:PT5M
RRULE:FREQ=MINUTELY;INTERVAL=10;COUNT=720
X-KETANG-SOURCE:item:$item
END:VEVENT
END:VCALENDAR
ICS
done

for _ in $(seq 1 600); do [ "$(on_air)" -ge "$channels" ] && break; sleep 0.5; done
[ "$(on_air)" -ge "$channels" ] || { echo "only $(on_air) of $channels channels on air" >&2; exit 1; }
# Let the slates for the coming hours finish rendering: wait for 10 quiet seconds.
quiet=0
waited=0
while [ $quiet -lt 10 ] && [ $waited -lt 300 ]; do
  waited=$((waited + 1))
  before=$(wc -l <"$log"); sleep 1; after=$(wc -l <"$log")
  if [ "$before" = "$after" ] && ! tail -n 1 "$log" | grep -q started; then quiet=$((quiet + 1)); else quiet=0; fi
done

ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
start_ticks=$(ticks)
renders_before=$(grep -c 'started segments' "$log" || true)
sleep "$seconds"
end_ticks=$(ticks)
renders_after=$(grep -c 'started segments' "$log" || true)
echo "ketang serve: $(on_air) channels on air, no viewers, ${seconds}s:"
awk -v t=$((end_ticks - start_ticks)) -v hz="$hz" -v s="$seconds" \
  'BEGIN { printf "  CPU time %.2f s = %.3f %% of one core\n", t / hz, 100 * t / hz / s }'
echo "  resident memory $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
echo "  slates rendered during the window: $((renders_after - renders_before)) ($renders_after since start)"
