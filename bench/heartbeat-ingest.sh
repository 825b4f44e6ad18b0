#!/bin/sh
# Heartbeat ingest over HTTP with batched writes (issue: ≥ 20,000 a second).
#
#   bench/heartbeat-ingest.sh [SECONDS] [CONNECTIONS] [VIEWERS] [BATCH]
#
# Starts the real server (demo channel 1 airing, default settings: writes
# batched every [attendance] flush_seconds) and runs
# build/bench/kt-heartbeat-load against it: CONNECTIONS keep-alive clients
# (64) posting real heartbeats of VIEWERS people (5000) for SECONDS (10),
# BATCH (1) to a request.
# Prints the rate, then checks in the database that the sessions were
# written by the batched flushes.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-10} conns=${2:-64} viewers=${3:-5000} batch=${4:-1}
bin=build/src/ketang
data=$(mktemp -d)
empty=$(mktemp -d)
KETANG_DEMO_SECONDS=4 KETANG_SERVER_SCHEDULES_DIR=$empty \
  "$bin" serve --demo --listen 127.0.0.1:0 --data "$data" >"$data/out" 2>"$data/err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$empty"' EXIT
for _ in $(seq 600); do
  base=$(sed -n 's/.*listening on \(http:[^ ]*\)/\1/p' "$data/out")
  [ -n "$base" ] && curl -s "${base}api/channels/1" | grep -q '"on-air"' && break
  sleep 0.2
done
port=$(echo "$base" | sed 's|.*:\([0-9]*\)/|\1|')
build/bench/kt-heartbeat-load 127.0.0.1 "$port" 1 "$conns" "$seconds" "$viewers" "$batch"
sleep 6 # one more flush
kill -TERM $pid; wait $pid 2>/dev/null || true
printf 'sessions written: '
sqlite3 "$data/ketang.db" "SELECT count(*) || ' (' || sum(viewer_key LIKE 'tel:%') || ' people at home)' FROM viewer_sessions"
