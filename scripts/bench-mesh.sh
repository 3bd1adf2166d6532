#!/usr/bin/env bash
# Mesh signalling load: ROOMS rooms of SIZE participants (default 200 × 5 = 1000 WebSockets)
# against a release build on 127.0.0.1; reports server memory per connection (RSS delta
# from /proc) and the latency of offers relayed between participants (p50/p99/max).
#
#   ./scripts/bench-mesh.sh                 # 200 rooms × 5, 10 s at 2 offers/s per room
#   ROOMS=50 SECONDS_RUN=5 ./scripts/bench-mesh.sh
#
# The load generator runs on the same two cores as the server, so latency includes its own
# scheduling; compare runs on the same machine rather than across machines.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOMS="${ROOMS:-200}"
SIZE="${SIZE:-5}"
SECONDS_RUN="${SECONDS_RUN:-10}"
RATE="${RATE:-2}"

cargo build --release --quiet --bin yoom --example mesh_load
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ulimit -n 65536 2>/dev/null || true
DATA_DIR="$data" BIND=127.0.0.1 PORT="$port" BASE_URL="http://127.0.0.1:$port" RUST_LOG=warn \
  BUILTIN_MEDIA=mesh MESH_MAX_PARTICIPANTS=8 MEETING_CREATE_RATE_LIMIT=100000 ./target/release/yoom >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
./target/release/examples/mesh_load "http://127.0.0.1:$port" "$pid" "$ROOMS" "$SIZE" "$SECONDS_RUN" "$RATE" | tee target/bench-mesh.md
