# Shared by the bench/*.sh scripts (sourced, not run).

# Print the URL a `ketang serve` writing to LOG announced ("listening on
# http://…/"), waiting up to 60 s for it (a loaded box starts slowly); print LOG and fail when it did not
# start.
ketang_url() {
  local log=$1 url="" _
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[^ ]*' "$log" | head -n1 || true)
    [ -n "$url" ] && { echo "$url"; return 0; }
    sleep 0.1
  done
  echo "ketang did not start:" >&2
  cat "$log" >&2
  return 1
}
