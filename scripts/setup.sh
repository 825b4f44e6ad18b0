#!/usr/bin/env bash
# Make this checkout ready to run: install what is missing (Debian packages
# with apt-get, the web packages with npm), then configure and build with
# meson. Idempotent: when nothing is missing it only runs an incremental
# build, in a second or two.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Build tools, libraries (-dev), the GStreamer elements the pipelines use,
# the CJK font for slates and the demo, Chromium for the browser tests,
# ffmpeg, which the tests use as an independent HLS client, nginx, which the
# edge test runs in front of ketang with deploy/nginx-edge.conf; clang
# (libFuzzer) and valgrind for the hardening checks; openssl makes the TLS
# test's certificate, glib-networking is GLib's TLS. WHIP (publishing from a
# browser) needs webrtcbin's headers (libgstreamer-plugins-bad1.0-dev) and
# libnice's GStreamer elements (gstreamer1.0-nice), without which webrtcbin
# cannot be made. The RTSP test simulates a classroom camera with
# gst-rtsp-server (libgstrtspserver-1.0-dev).
packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libsoup-3.0-dev libsqlite3-dev libjson-glib-dev libical-dev libsodium-dev tzdata
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-x
  gstreamer1.0-nice libgstrtspserver-1.0-dev
  fonts-noto-cjk sqlite3 ffmpeg chromium curl ca-certificates nginx
  clang valgrind openssl glib-networking
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm: use the ones on the machine; Debian's npm conflicts with a
# separately installed Node, so install Debian's only where there is none.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Web packages (hls.js for the player, qrcode-generator and Chart.js for the
# administrators' pages, playwright-core for the browser tests).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
ninja -C build
