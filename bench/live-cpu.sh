#!/usr/bin/env bash
# CPU for one live 720p talk with the full ladder (720p + 360p + audio-only
# HLS segments), against ffmpeg making the same ladder from the same stream
# with the same x264 settings, in the same run. Run on purpose:
#
#   bench/live-cpu.sh [SECONDS]          (default 60)
#
# The publisher is ffmpeg sending SECONDS of a 1280x720 25 fps test picture
# (testsrc2, which moves) and a tone over SRT, paced in real time (-re), as
# OBS would. First to a fresh `ketang serve` airing a live talk: the
# server's CPU time (utime + stime from /proc/<pid>/stat) while the stream
# runs, minus its idle CPU over the same time before the publisher starts.
# Then the same stream to an ffmpeg SRT listener that decodes it and encodes
# 720p 2 Mb/s and 360p 600 kb/s (x264 veryfast, zerolatency, GOP 50, no
# B-frames, Main) and AAC 64 kb/s, into 2 s HLS segments: that ffmpeg's CPU
# time. (ffmpeg's HLS muxer wants a stream per variant, so it encodes the
# sound three times where ketang encodes it once: about 1 % of a core more.) Prints both in CPU-seconds and as a share of one core,
# and their ratio. The publisher's own CPU is counted in neither.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bench/lib.sh"
seconds=${1:-60}
bin="$root/build/src/ketang"
[ -x "$bin" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

data=$(mktemp -d)
mkdir -p "$data/schedules" "$data/ffmpeg"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$data"' EXIT

srt_port=$(( 20000 + RANDOM % 20000 ))
start=$(date -u -d '-1 min' +%Y%m%dT%H%M%SZ)
end=$(date -u -d '+3 hours' +%Y%m%dT%H%M%SZ)
cat >"$data/schedules/9.ics" <<ICS
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ketang//bench//EN
X-WR-CALNAME:报告会
X-KETANG-CHANNEL:9
BEGIN:VEVENT
UID:cpu
SUMMARY:CPU 测试
DTSTART:$start
DTEND:$end
X-KETANG-SOURCE:live:bench
END:VEVENT
END:VCALENDAR
ICS

log="$data/server.log"
KETANG_SERVER_SCHEDULES_DIR="$data/schedules" KETANG_LIVE_SRT_LISTEN="127.0.0.1:$srt_port" \
  "$bin" serve --listen 127.0.0.1:0 --data "$data" >"$log" 2>&1 &
server=$!
pids+=("$server")
url=$(ketang_url "$log")
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "${url}live/9/720p/index.m3u8")" = 200 ] && break
  sleep 0.5
done

printf 'bench-password\n' >"$data/pw"
"$bin" user add --role teacher --data "$data" --password-file "$data/pw" bench >/dev/null
jar="$data/cookies"
csrf=$(curl -fs -c "$jar" -H 'Content-Type: application/json' \
  -d '{"name":"bench","password":"bench-password"}' "${url}api/login" |
  sed -n 's/.*"csrf" *: *"\([^"]*\)".*/\1/p')
key=$(curl -fs -b "$jar" -H "X-CSRF-Token: $csrf" -X POST "${url}api/live/key" |
  sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
[ -n "$key" ] || { echo "no publish key" >&2; exit 1; }

publish() { # URL
  ffmpeg -loglevel error -re -f lavfi -i "testsrc2=size=1280x720:rate=25" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t "$seconds" \
    -c:v libx264 -preset veryfast -tune zerolatency -g 50 -b:v 3M -c:a aac -b:a 128k \
    -f mpegts "$1"
}

# ketang: idle first (after the slates it makes at start), then with the talk.
sleep 10
idle0=$(cpu_ticks "$server"); sleep 10; idle1=$(cpu_ticks "$server")
t0=$(cpu_ticks "$server")
publish "srt://127.0.0.1:$srt_port?streamid=bench/$key&latency=200000"
sleep 3 # the last segments
t1=$(cpu_ticks "$server")
segments=$(curl -fs "${url}api/live/talks" -b "$jar" | sed -n 's/.*"segments" *: *\([0-9]*\).*/\1/p' | head -n1)

# ffmpeg: the same ladder from the same stream.
ff_port=$(( srt_port + 1 ))
( cd "$data/ffmpeg" && exec ffmpeg -loglevel error -i "srt://127.0.0.1:$ff_port?mode=listener&latency=200000" \
  -filter_complex "[0:v]fps=25,scale=1280:720,split=2[a][b];[b]scale=640:360[c]" \
  -map "[a]" -map "[c]" -map 0:a -map 0:a -map 0:a \
  -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -bf 0 -g 50 -keyint_min 50 \
  -sc_threshold 0 -b:v:0 2000k -b:v:1 600k -c:a aac -b:a 64k -ar 48000 -ac 2 \
  -f hls -hls_time 2 -hls_list_size 0 -var_stream_map "v:0,a:0 v:1,a:1 a:2" \
  -master_pl_name master.m3u8 -hls_segment_filename 's%v_%05d.ts' 'v%v.m3u8' ) &
ff=$!
pids+=("$ff")
sleep 1
f0=$(cpu_ticks "$ff")
# ffmpeg ends with its input: keep its latest CPU time while it runs.
( while f=$(cpu_ticks "$ff" 2>/dev/null); do echo "$f" >"$data/ff-ticks"; sleep 0.2; done ) &
publish "srt://127.0.0.1:$ff_port?latency=200000"
wait "$ff" 2>/dev/null || true
sleep 0.5
f1=$(cat "$data/ff-ticks")

awk -v hz="$hz" -v s="$seconds" -v k=$((t1 - t0)) -v idle=$((idle1 - idle0)) -v f=$((f1 - f0)) -v n="${segments:-?}" 'BEGIN {
  kt = (k - idle * (s + 3) / 10) / hz; ff = f / hz;
  printf "live talk of %d s, 720p25 in; ketang aired %s segments\n", s, n;
  printf "ketang  %6.1f CPU-s  (%5.1f %% of one core; idle %.1f %% subtracted)\n", kt, 100 * kt / (s + 3), 100 * idle / hz / 10;
  printf "ffmpeg  %6.1f CPU-s  (%5.1f %% of one core)\n", ff, 100 * ff / (s + 3);
  printf "ratio ketang / ffmpeg: %.2f\n", kt / ff;
}'
