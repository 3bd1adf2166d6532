#!/usr/bin/env bash
# Runs the attacks of an outside review against a fresh release server on 127.0.0.1 and prints
# what got through, one row per attack (examples/abuse.rs): parallel wrong passwords, room-ID
# probing, early recording slices past the byte limit, the server's memory while big slices
# arrive, one account's sockets into one room, a flood of frames, and a meeting-creation
# flood. Bounded in count and time (about a minute); loopback only. Exits 1 if a goal is missed.
#
#   ./scripts/abuse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet --bin yoom --example abuse
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# A small recording limit, so "past the byte limit" is reached in a few slices.
DATA_DIR="$data" BIND=127.0.0.1 PORT="$port" BASE_URL="http://127.0.0.1:$port" RUST_LOG=warn \
  RECORDING_MAX_BYTES=5000000 ./target/release/yoom >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
timeout 300 ./target/release/examples/abuse "http://127.0.0.1:$port" "$pid" "$data" | tee target/abuse.md
