# Shared by the scripts/bench-* scripts: peers' set-up, measuring helpers.
# Sourced, not run.

peers="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/bench/peers"
bench_pids=()
bench_cleanup() {
  for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$bin_dir"
}
trap bench_cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }

# Installs the peers and measuring tools when root (Debian and PyPI).
bench_setup() {
  local missing=()
  have nginx || missing+=(nginx-light)
  have wrk || missing+=(wrk)
  have hyperfine || missing+=(hyperfine)
  [ -x /usr/bin/time ] || missing+=(time)
  for extra in "$@"; do
    set -- $extra
    have "$1" || missing+=("$2")
  done
  if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  python3 -c 'import httpx, pyramid, waitress, prometheus_client' 2>/dev/null ||
    pip install -q httpx pyramid waitress prometheus_client
  scripts/build-release >/dev/null
}

# What is measured is what the image runs: its one executable (multicall/),
# called by each side-car's name through a symlink, as the image links them.
# The release tarballs' own executables, one per side-car, are in
# $release_dir; their sizes are reported too.
release_dir="$PWD/target/x86_64-unknown-linux-musl/release"
bin_dir=$(mktemp -d)
for name in $(scripts/sidecars); do ln -s "$release_dir/sidecars" "$bin_dir/$name"; done

# sizes NAME: the image's executable and NAME's own, in bytes, as a line.
sizes() {
  printf '  sizes: the image executable (all side-cars) %s bytes; %s alone (release tarball) %s bytes\n' \
    "$(stat -c %s "$release_dir/sidecars")" "$1" "$(stat -c %s "$release_dir/$1")"
}

# Starts the nginx stand-in for the main container on 127.0.0.1:18080.
start_nginx() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout /tmp/peer-target-nginx.key -out /tmp/peer-target-nginx.crt 2>/dev/null
  nginx -c "$peers/nginx/nginx.conf" 2>/dev/null &
  bench_pids+=($!)
  wait_port 127.0.0.1:18080
  wait_port 127.0.0.1:18443
}

# Waits until a TCP port accepts connections.
wait_port() {
  for _ in $(seq 200); do
    "$bin_dir/ready-check" -q --tcp "$1" --timeout 100ms >/dev/null 2>&1 && return
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  exit 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# wrk -t1 -c8 -d5s URL -> requests per second.
wrk_rps() { wrk -t1 -c8 -d5s "$1" | awk '/^Requests\/sec:/ {print $2}'; }

# Peak RSS in KiB of one run of a command.
peak_rss_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

# hyperfine mean wall time in ms of a command run many times, no shell.
mean_ms() {
  local json
  json=$(mktemp)
  hyperfine -N --output=pipe --warmup "${WARMUP:-20}" --runs "${RUNS:-300}" --export-json "$json" "$1" >/dev/null 2>&1
  python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][0]["mean"]*1000))' "$json"
  rm -f "$json"
}

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.1f' % (a/b if b else float('inf')))" "$1" "$2"; }

# goal NAME OK(0/1): prints a verdict line.
goal() { if [ "$2" = 1 ]; then printf '  goal met:    %s\n' "$1"; else printf '  GOAL MISSED: %s\n' "$1"; fi; }
lt() { python3 -c "import sys; print(int(float(sys.argv[1]) < float(sys.argv[2])))" "$1" "$2"; }
ge() { python3 -c "import sys; print(int(float(sys.argv[1]) >= float(sys.argv[2])))" "$1" "$2"; }
