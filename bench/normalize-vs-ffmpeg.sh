#!/usr/bin/env bash
# How fast ketang normalizes an upload, next to ffmpeg making the same ladder.
#
#   bench/normalize-vs-ffmpeg.sh [SECONDS]        (default 600: a 10-minute lesson)
#
# The input, made once and cached (KETANG_BENCH_CACHE, default
# ~/.cache/ketang-bench): 1920x1080 25 fps H.264 High at 8 Mb/s, SMPTE bars
# scrolling sideways with a running time code, and a 440 Hz tone in AAC
# 48 kHz stereo. Then, in this run, one after the other on an idle machine:
#
#  - ketang: build/bench/kt-normalize-bench imports a copy of it into a fresh
#    library and normalizes it with pipelines/normalize.pipeline;
#  - ffmpeg: the same ladder from one decode, with the x264 settings the
#    GStreamer template ends up with (compare the "x264 - core" SEI lines
#    printed at the end): 720p 2 Mb/s and 360p 600 kb/s, veryfast, Main,
#    keyint 50, no scene-cut, no B-frame difference, CBR with a 600 ms VBV
#    buffer; AAC 64 kb/s; HLS with 2 s segments. (ffmpeg's HLS muxer wants
#    an audio stream per variant, so it encodes AAC three times; at 64 kb/s
#    that is noise.)
#
# Prints each as a multiple of real time (input seconds / wall seconds), the
# CPU seconds, and the ratio of the two speeds.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-600}
bench="$root/build/bench/kt-normalize-bench"
[ -x "$bench" ] || { echo "build first: meson setup build && ninja -C build" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "ffmpeg is not installed" >&2; exit 1; }

cache=${KETANG_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ketang-bench}
mkdir -p "$cache"
input="$cache/input-1080p25-${seconds}s.mp4"
if [ ! -s "$input" ]; then
  echo "making the ${seconds} s 1080p input once (slow): $input"
  frames=$((seconds * 25))
  gst-launch-1.0 -q -e \
    videotestsrc num-buffers=$frames pattern=smpte horizontal-speed=4 ! \
    video/x-raw,width=1920,height=1080,framerate=25/1 ! timeoverlay font-desc="Sans 60" ! \
    videoconvert ! x264enc speed-preset=veryfast bitrate=8000 key-int-max=50 ! \
    video/x-h264,profile=high ! h264parse ! queue ! mux. \
    audiotestsrc num-buffers=$frames samplesperbuffer=1920 wave=sine freq=440 volume=0.2 ! \
    audio/x-raw,rate=48000,channels=2 ! audioconvert ! avenc_aac bitrate=128000 ! aacparse ! \
    queue ! mux. \
    mp4mux name=mux ! filesink location="$input.part"
  mv "$input.part" "$input"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ketang-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

echo "== ketang: $(basename "$input")"
cp "$input" "$work/upload.mp4"     # the library moves its uploads: give it a copy
"$bench" --data "$work/ketang" "$work/upload.mp4" | tee "$work/ketang.log"
k_wall=$(sed -n 's/.*ketang wall_s=\([0-9.]*\).*/\1/p' "$work/ketang.log")
k_cpu=$(sed -n 's/.* cpu_s=\([0-9.]*\).*/\1/p' "$work/ketang.log")
k_seg=$(ls "$work/ketang/media"/up-*/720p | wc -l)

echo "== ffmpeg"
out="$work/ffmpeg"
mkdir -p "$out"
x264="keyint=50:min-keyint=26:scenecut=0:nal-hrd=none"
t0=$(now)
/usr/bin/time -f "%e %U %S" -o "$work/ffmpeg.time" \
ffmpeg -nostdin -v error -y -i "$input" \
  -filter_complex "[0:v]fps=25,split=2[a][b];[a]scale=1280:720[v720];[b]scale=640:360[v360]" \
  -map "[v720]" -map "[v360]" -map 0:a -map 0:a -map 0:a \
  -c:v libx264 -preset veryfast -profile:v main -x264-params "$x264" \
  -b:v:0 2000k -maxrate:v:0 2000k -bufsize:v:0 1200k \
  -b:v:1 600k -maxrate:v:1 600k -bufsize:v:1 360k \
  -c:a aac -b:a 64k -ar 48000 -ac 2 \
  -f hls -hls_time 2 -hls_playlist_type vod -hls_segment_type mpegts \
  -hls_segment_filename "$out/%v/%05d.ts" \
  -var_stream_map "v:0,a:0,name:720p v:1,a:1,name:360p a:2,name:audio" "$out/%v/index.m3u8"
t1=$(now)
f_wall=$(echo "$t1 - $t0" | bc -l)
f_cpu=$(awk '{ print $2 + $3 }' "$work/ffmpeg.time")
f_seg=$(ls "$out/720p"/*.ts | wc -l)

sei() { ffmpeg -v error -i "$1" -c copy -f h264 - 2>/dev/null | strings | grep -m1 -o 'options: .*' || true; }
echo
echo "x264 settings, ketang 720p: $(sei "$work/ketang/media"/up-*/720p/00000.ts)"
echo "x264 settings, ffmpeg 720p: $(sei "$out/720p/00000.ts")"
echo
cores=$(nproc)
awk -v s="$seconds" -v kw="$k_wall" -v kc="$k_cpu" -v fw="$f_wall" -v fc="$f_cpu" \
    -v ks="$k_seg" -v fs="$f_seg" -v cores="$cores" 'BEGIN {
  printf "input: %d s of 1920x1080 25 fps, %d cores\n", s, cores
  printf "ketang normalize: %7.1f s wall, %7.1f CPU-s, %5.2fx real time, %d segments\n", kw, kc, s / kw, ks
  printf "ffmpeg ladder:    %7.1f s wall, %7.1f CPU-s, %5.2fx real time, %d segments\n", fw, fc, s / fw, fs
  printf "ketang / ffmpeg speed: %.2f (above 1: ketang faster)\n", fw / kw
}'
