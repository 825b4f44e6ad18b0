#!/bin/sh
# Report latency over a year of a county (issue: < 100 ms for the per-lesson
# and the per-month reports).
#
#   bench/attendance-reports.sh [RUNS]
#
# Makes the database once with build/bench/kt-attendance-gen (500 viewing
# points, 2,000 people at home, 3 lessons a day for 2026; cached in
# ~/.cache/ketang-bench/attendance), starts the real server on it, logs in
# as an administrator and times each report over HTTP with curl, RUNS times
# (default 7), printing the median and the slowest in milliseconds.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-7}
bin=build/src/ketang
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ketang-bench/attendance
if [ ! -f "$cache/ketang.db" ]; then
  mkdir -p "$cache"
  echo "making the database (once)…"
  build/bench/kt-attendance-gen "$cache/ketang.db" 2026
fi
data=$(mktemp -d)
cp "$cache/ketang.db" "$data/ketang.db"
printf 'bench-password\n' | "$bin" user add --role admin --data "$data" bench >/dev/null
empty=$(mktemp -d)
KETANG_SERVER_SCHEDULES_DIR=$empty "$bin" serve --listen 127.0.0.1:0 --data "$data" >"$data/out" 2>"$data/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$empty"' EXIT
for _ in $(seq 100); do
  base=$(sed -n 's/.*listening on \(http:[^ ]*\)/\1/p' "$data/out")
  [ -n "$base" ] && break
  sleep 0.1
done
jar="$data/cookies"
curl -s -c "$jar" -H 'Content-Type: application/json' \
  -d '{"name":"bench","password":"bench-password"}' "${base}api/login" >/dev/null

time_report() {
  name=$1 path=$2
  times=""
  for _ in $(seq "$runs"); do
    t=$(curl -s -b "$jar" -o /dev/null -w '%{http_code} %{time_total}\n' "$base$path")
    code=${t% *}
    [ "$code" = 200 ] || { echo "$path answered $code" >&2; exit 1; }
    times="$times ${t#* }"
  done
  echo "$times" | tr ' ' '\n' | grep . | sort -n | awk -v name="$name" -v path="$path" '
    { v[NR] = $1 * 1000 } END { printf "%-34s median %6.1f ms  max %6.1f ms  %s\n", name, v[int((NR + 1) / 2)], v[NR], path }'
}

time_report "per lesson, one day"            "api/attendance/lessons?from=2026-06-15&to=2026-06-16"
time_report "per lesson, one day, CSV"       "api/attendance/lessons.csv?from=2026-06-15&to=2026-06-16"
time_report "per lesson, one week"           "api/attendance/lessons?from=2026-06-15&to=2026-06-22"
time_report "per month (channel, township)"  "api/attendance/months?from=2026-06-01&to=2026-07-01"
time_report "per month, CSV"                 "api/attendance/months.csv?from=2026-06-01&to=2026-07-01"
time_report "per viewing point, one month"   "api/attendance/viewpoints?from=2026-06-01&to=2026-07-01"
time_report "per viewing point, a term"      "api/attendance/viewpoints?from=2026-09-01&to=2027-01-01"
time_report "per month, whole year"          "api/attendance/months?from=2026-01-01&to=2027-01-01"
