# Shared by the bench scripts (sourced, not run).

# The base URL a `ketang serve --listen 127.0.0.1:0` announces in LOG, once
# it does (10 s at most); exits with the log when it never does.
server_url() {
  local log=$1 url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'http://[^ ]*' "$log" | head -n1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "server did not start:" >&2; cat "$log" >&2; exit 1; }
  echo "$url"
}
